package chaos_test

import (
	"os"
	"testing"

	"github.com/rotary-secrets/rotary/test/chaos"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/e2e/lambdarie"
)

func TestMain(m *testing.M) {
	builds = lambdarie.MustNewBuilds("rotary-chaos-rie-")
	code := m.Run()
	builds.Close()
	dbtest.StopSharedPostgres()
	dbtest.StopSharedMariaDB()
	dbtest.StopSharedSlapd()
	if n := chaos.Counter.Load(); n > 0 {
		mode := "representative subset"
		if chaos.Full() {
			mode = "full suite"
		}
		// The number of schedules run is part of the suite's evidence.
		os.Stdout.WriteString("chaos: " + itoa(n) + " schedules run (" + mode + ")\n")
	}
	os.Exit(code)
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
