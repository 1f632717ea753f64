package dbtest

import (
	"strings"
	"testing"
)

func TestStartMariaDB(t *testing.T) {
	m := StartMariaDB(t)
	user := NewMySQLUserName("probe")
	m.Exec(t, "CREATE USER ?@'%' IDENTIFIED BY ?", user, "right-password")

	tests := []struct {
		name     string
		user     string
		password string
		wantDeny bool
	}{
		{name: "right password", user: user, password: "right-password"},
		{name: "wrong password", user: user, password: "wrong-password", wantDeny: true},
		{name: "empty password", user: user, password: "", wantDeny: true},
		{name: "root wrong password", user: "root", password: "x", wantDeny: true},
		{name: "anonymous", user: "", password: "", wantDeny: true},
		{name: "root right password", user: "root", password: m.RootPassword},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := m.Login(t.Context(), tc.user, tc.password)
			if tc.wantDeny {
				if !IsMySQLAccessDenied(err) {
					t.Fatalf("Login() = %v, want access denied", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Login() = %v, want success", err)
			}
		})
	}

	t.Run("general log records statements", func(t *testing.T) {
		if got := m.GeneralLog(t); !strings.Contains(got, "CREATE USER") {
			t.Fatalf("general log lacks the CREATE USER statement")
		}
	})
	t.Run("grants readable", func(t *testing.T) {
		got := m.ShowGrants(t, user, "%")
		if len(got) == 0 || !strings.HasPrefix(got[0], "GRANT USAGE ON *.*") {
			t.Fatalf("ShowGrants() = %q", got)
		}
		if !m.UserExists(t, user, "%") || m.UserExists(t, user, "localhost") {
			t.Fatalf("UserExists disagrees with CREATE USER")
		}
	})
	t.Run("version", func(t *testing.T) {
		if !strings.Contains(m.Version, "MariaDB") {
			t.Fatalf("Version = %q, want a MariaDB version", m.Version)
		}
	})
}
