#!/usr/bin/env python3
"""Strict kubeconform schemas from a CRD file, as openapi2jsonschema.py
(yannh/kubeconform scripts/, the datreeio CRDs-catalog's converter) makes
them with strict mode: every object with properties gets
additionalProperties: false, int-or-string becomes a oneOf, and one file
<kind>-<group's first label>-<version>.json per served version is written.

    python3 crd2schema.py CRD.yaml OUTDIR
"""
import json
import os
import sys

import yaml


def additional_properties(data):
    if isinstance(data, dict):
        if "properties" in data and "additionalProperties" not in data:
            data["additionalProperties"] = False
        for v in data.values():
            additional_properties(v)
    elif isinstance(data, list):
        for v in data:
            additional_properties(v)
    return data


def replace_int_or_string(data):
    if isinstance(data, dict):
        if data.get("format") == "int-or-string":
            return {"oneOf": [{"type": "string"}, {"type": "integer"}]}
        return {k: replace_int_or_string(v) for k, v in data.items()}
    if isinstance(data, list):
        return [replace_int_or_string(v) for v in data]
    return data


def main(crd_file, out):
    for crd in yaml.safe_load_all(open(crd_file)):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        group = crd["spec"]["group"].split(".")[0]
        kind = crd["spec"]["names"]["kind"].lower()
        for v in crd["spec"]["versions"]:
            if not v.get("served", True):
                continue
            schema = v["schema"]["openAPIV3Schema"]
            schema = replace_int_or_string(additional_properties(schema))
            name = os.path.join(out, "%s-%s-%s.json" % (kind, group, v["name"]))
            with open(name, "w") as f:
                json.dump(schema, f, indent=2)
                f.write("\n")
            print(name)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
