package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest/fakemysql"
)

// TestTransientErrorsRetried: the server answers the password statement with
// a deadlock (1213) or lock wait timeout (1205), as MySQL 8 does when another
// session holds the InnoDB grant tables. The step runs the statement again on
// the same connection, with backoff, and gives up after maxAttempts or when
// ctx ends.
func TestTransientErrorsRetried(t *testing.T) {
	off := false
	tests := []struct {
		name     string
		code     uint16
		times    int // 0: always
		deadline time.Duration
		wantRuns int
		wantErr  bool
	}{
		{name: "deadlock once", code: 1213, times: 1, wantRuns: 2},
		{name: "lock wait timeout twice", code: 1205, times: 2, wantRuns: 3},
		{name: "deadlock every time", code: 1213, wantRuns: maxAttempts, wantErr: true},
		{name: "deadlock until ctx ends", code: 1213, deadline: 150 * time.Millisecond, wantErr: true},
		{name: "syntax error is not retried", code: 1064, wantRuns: 1, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := fakemysql.Start(t, fakemysql.Config{Version: "10.11.6-MariaDB",
				Fail: []fakemysql.Failure{{Prefix: "SET PASSWORD", Code: tc.code, Times: tc.times}}})
			r := NewSingleUser(Config{Passwords: password.Default(password.MySQLExclude)})
			cur := secret.Value{Engine: "mariadb", Host: fake.Host, Port: fake.Port, Username: "app", Password: newPassword(t), SSL: &off}
			pending := cur.Clone()
			pending.Password = newPassword(t)
			ctx := t.Context()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			_, err := r.Set(ctx, setRequest(cur, pending))
			runs := 0
			for _, q := range fake.Queries() {
				if strings.HasPrefix(q, "SET PASSWORD") {
					runs++
				}
			}
			if tc.wantRuns != 0 && runs != tc.wantRuns {
				t.Errorf("password statement ran %d times, want %d", runs, tc.wantRuns)
			}
			if got := r.Stats().Logins; got != 1 {
				t.Errorf("logins = %d, want 1 (retries reuse the connection)", got)
			}
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("Set() = %v, want success after retrying", err)
				}
				return
			}
			var me *mysqldriver.MySQLError
			if !errors.As(err, &me) || me.Number != tc.code {
				t.Fatalf("Set() = %v, want server error %d", err, tc.code)
			}
		})
	}
}

func TestIsTransient(t *testing.T) {
	for n, want := range map[uint16]bool{1205: true, 1213: true, 1689: true, 1637: true, 1045: false, 1064: false, 1396: false} {
		if got := isTransient(&mysqldriver.MySQLError{Number: n}); got != want {
			t.Errorf("isTransient(%d) = %v, want %v", n, got, want)
		}
	}
	if isTransient(errors.New("1213")) {
		t.Error("a non-server error is transient")
	}
}
