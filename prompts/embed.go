// Package prompts holds the "Kubernetes Edge Architect" prompt templates as
// plain Markdown files, one per tier and language, plus the optional
// "what the repository already contains" section:
//
//	basic.es.md, basic.en.md      Basic prompt (Role + Task)
//	pro.es.md, pro.en.md          Pro prompt (Role, Context, Task 1–4, Constraints, Warning)
//	scaffold.es.md, scaffold.en.md section appended to the Pro prompt
//
// The Spanish files follow the seed document (the "Kubernetes Edge
// Architect" prompt, in Spanish) word for word; the English files are
// faithful translations with the same structure. The files are text/template templates: values are passed in as
// data by package generator/prompt and are never executed as template code.
package prompts

import "embed"

// FS holds every *.md template in this directory.
//
//go:embed *.md
var FS embed.FS
