package spec

import _ "embed"

// Schema is the JSON Schema (draft 2020-12) of fleet.yaml, for editors
// (`# yaml-language-server: $schema=fleet.schema.json`) and CI. It is
// derived from the Go types of this package by reflection, with the same
// field names, the enumerations of validate.go and the types' doc comments:
// `go test ./generator/spec -run TestSchema -update` rewrites it, and the
// test fails while the committed file differs from what the types give.
// The loader stays the authority (cross-field rules, DNS names, quantities
// are checked only there); the schema never rejects a spec the loader
// accepts.
//
//go:embed fleet.schema.json
var Schema []byte

// SchemaFile is the name of the schema beside a fleet.yaml.
const SchemaFile = "fleet.schema.json"

// SchemaComment is the first line of a fleet.yaml fleetgen writes: it points
// YAML language servers at the schema beside it.
const SchemaComment = "# yaml-language-server: $schema=" + SchemaFile
