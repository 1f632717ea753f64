// Package docs checks that the README matches the code: every environment
// variable the product code reads is in the README's configuration tables,
// and no table is cut in two by a blank line. It holds tests only.
package docs
