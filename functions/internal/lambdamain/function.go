package lambdamain

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
)

// EnvFunction names the function a deployment expects this binary to be:
// infra/per-account.yaml sets it from its Rotator parameter, while the binary
// was chosen when `sam build` ran make build-RotationFunction with the
// ROTARY_FUNCTION make variable. Nothing else ties the two together (sam build
// --cached reuses an earlier build whatever the variable says), so a start-up
// check does.
const EnvFunction = "ROTARY_FUNCTION"

// ErrWrongFunction is returned by Build when EnvFunction names another
// function than the one this binary was built from.
var ErrWrongFunction = errors.New("this binary is not the function the deployment names")

// functionsPrefix is the import path under which each function's main
// package lives.
const functionsPrefix = "github.com/rotary-secrets/rotary/functions/"

// builtFunction returns the name of the function this binary was built from
// (functions/<name>), or "" when it is not one (tests, tools).
func builtFunction() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	return functionOf(bi.Path)
}

// functionOf maps a main package path to its function name.
func functionOf(mainPath string) string {
	name, ok := strings.CutPrefix(mainPath, functionsPrefix)
	if !ok || name == "" || strings.Contains(name, "/") {
		return ""
	}
	return name
}

// checkFunction compares EnvFunction with the function built, when both are
// known.
func checkFunction(getenv func(string) string, built string) error {
	want := strings.TrimSpace(getenv(EnvFunction))
	if want == "" || built == "" || want == built {
		return nil
	}
	return fmt.Errorf("%w: %s=%s (the Rotator parameter) but this bootstrap was built from functions/%s: "+
		"rebuild with ROTARY_FUNCTION=%s sam build --build-in-source (not --cached) and deploy again, or set Rotator=%s",
		ErrWrongFunction, EnvFunction, want, built, want, built)
}
