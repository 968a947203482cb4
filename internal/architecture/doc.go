// Package architecture holds no code: its test checks the layers of
// DESIGN.md and the README over the import graph of the whole module, so a
// package that reaches above its layer, or a transport that builds a
// query, fails `go test ./...` instead of waiting for a reviewer.
package architecture
