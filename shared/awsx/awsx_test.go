package awsx

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	home    = "111111111111"
	member1 = "222222222222"
	member2 = "333333333333"
	outside = "444444444444"
	extID   = "ext-id-Do-Not-Log-42"
	token   = "0f9e8d7c-6b5a-4321-8765-43210fedcba9"
)

func secretARN(account, region string) string {
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:app/db-AbC123", region, account)
}

func TestParseSecretARN(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    SecretLocation
		wantErr bool
	}{
		{name: "full ARN", in: secretARN(member1, "eu-west-1"), want: SecretLocation{"aws", "eu-west-1", member1}},
		{name: "china partition", in: "arn:aws-cn:secretsmanager:cn-north-1:" + member1 + ":secret:x-AbC123", want: SecretLocation{"aws-cn", "cn-north-1", member1}},
		{name: "secret name", in: "app/db", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "other service", in: "arn:aws:ssm:eu-west-1:" + member1 + ":parameter/x", wantErr: true},
		{name: "no secret resource", in: "arn:aws:secretsmanager:eu-west-1:" + member1 + ":secret:", wantErr: true},
		{name: "no region", in: "arn:aws:secretsmanager::" + member1 + ":secret:x-AbC123", wantErr: true},
		{name: "short account", in: "arn:aws:secretsmanager:eu-west-1:1234:secret:x-AbC123", wantErr: true},
		{name: "gov partition", in: "arn:aws-us-gov:secretsmanager:us-gov-west-1:" + member1 + ":secret:x-AbC123", want: SecretLocation{"aws-us-gov", "us-gov-west-1", member1}},
		{name: "iso-e partition", in: "arn:aws-iso-e:secretsmanager:eu-isoe-west-1:" + member1 + ":secret:x-AbC123", want: SecretLocation{"aws-iso-e", "eu-isoe-west-1", member1}},
		{name: "eusc partition", in: "arn:aws-eusc:secretsmanager:eusc-de-east-1:" + member1 + ":secret:x-AbC123", want: SecretLocation{"aws-eusc", "eusc-de-east-1", member1}},
		// The fuzz finding of issue 11: empty partition, region "0".
		{name: "fuzz finding: empty partition, region 0", in: "arn::secretsmanager:0:000000000000:secret:0", wantErr: true},
		{name: "empty partition", in: "arn::secretsmanager:us-east-1:" + member1 + ":secret:x-AbC123", wantErr: true},
		{name: "unknown partition", in: "arn:evil:secretsmanager:us-east-1:" + member1 + ":secret:x-AbC123", wantErr: true},
		{name: "partition case", in: "arn:AWS:secretsmanager:us-east-1:" + member1 + ":secret:x-AbC123", wantErr: true},
		{name: "numeric region", in: "arn:aws:secretsmanager:0:" + member1 + ":secret:x-AbC123", wantErr: true},
		{name: "region without number", in: "arn:aws:secretsmanager:us-east:" + member1 + ":secret:x-AbC123", wantErr: true},
		{name: "region upper case", in: "arn:aws:secretsmanager:US-EAST-1:" + member1 + ":secret:x-AbC123", wantErr: true},
		{name: "region with dots", in: "arn:aws:secretsmanager:us-east-1.evil.example:" + member1 + ":secret:x-AbC123", wantErr: true},
		{name: "account with letters", in: "arn:aws:secretsmanager:us-east-1:12345678901a:secret:x-AbC123", wantErr: true},
		{name: "name with a colon", in: "arn:aws:secretsmanager:us-east-1:" + member1 + ":secret:x:y", wantErr: true},
		{name: "name with a space", in: "arn:aws:secretsmanager:us-east-1:" + member1 + ":secret:x y", wantErr: true},
		{name: "name too long", in: "arn:aws:secretsmanager:us-east-1:" + member1 + ":secret:" + strings.Repeat("n", 600), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSecretARN(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidSecretARN) {
					t.Fatalf("ParseSecretARN(%q) error = %v, want ErrInvalidSecretARN", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSecretARN(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("ParseSecretARN(%q) (-got +want):\n%s", tt.in, diff)
			}
		})
	}
}

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr bool
	}{
		{name: "defaults", env: nil, want: Config{Mode: ModeAccount, RoleName: DefaultRoleName}},
		{name: "account mode with home and endpoint", env: map[string]string{EnvHomeAccount: home, EnvSMEndpoint: "https://secretsmanager.eu-west-1.amazonaws.com", EnvFunctionName: "fn"},
			want: Config{Mode: ModeAccount, RoleName: DefaultRoleName, HomeAccount: home, SecretsManagerEndpoint: "https://secretsmanager.eu-west-1.amazonaws.com", FunctionName: "fn"}},
		{name: "central with list", env: map[string]string{EnvMode: "central", EnvAllowedAccounts: member1 + ", " + member2 + "," + member1, EnvExternalID: extID, EnvRoleName: "custom-role"},
			want: Config{Mode: ModeCentral, RoleName: "custom-role", ExternalID: extID, AllowedAccounts: []string{member1, member2}}},
		{name: "central star with org", env: map[string]string{EnvMode: "CENTRAL", EnvAllowedAccounts: "*", EnvOrgID: "o-abcdef1234"},
			want: Config{Mode: ModeCentral, RoleName: DefaultRoleName, AllowAnyAccount: true, OrgID: "o-abcdef1234"}},
		{name: "central without list reaches home only", env: map[string]string{EnvMode: "central"},
			want: Config{Mode: ModeCentral, RoleName: DefaultRoleName}},
		{name: "star without org", env: map[string]string{EnvMode: "central", EnvAllowedAccounts: "*"}, wantErr: true},
		{name: "star among accounts", env: map[string]string{EnvMode: "central", EnvAllowedAccounts: member1 + ",*", EnvOrgID: "o-abcdef1234"}, wantErr: true},
		{name: "bad account", env: map[string]string{EnvMode: "central", EnvAllowedAccounts: "12345"}, wantErr: true},
		{name: "allow-list in account mode", env: map[string]string{EnvAllowedAccounts: member1}, wantErr: true},
		{name: "unknown mode", env: map[string]string{EnvMode: "global"}, wantErr: true},
		{name: "bad role name", env: map[string]string{EnvRoleName: "role name"}, wantErr: true},
		{name: "bad external id", env: map[string]string{EnvExternalID: extID + " !"}, wantErr: true},
		{name: "bad org id", env: map[string]string{EnvOrgID: "org-1"}, wantErr: true},
		{name: "bad home account", env: map[string]string{EnvHomeAccount: "home"}, wantErr: true},
		{name: "bad endpoint", env: map[string]string{EnvSMEndpoint: "secretsmanager.local"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFromEnv(envFunc(tt.env))
			if tt.wantErr {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("ConfigFromEnv error = %v, want ErrConfig", err)
				}
				if strings.Contains(err.Error(), extID) {
					t.Errorf("error %q contains the ExternalId", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConfigFromEnv: %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("ConfigFromEnv (-got +want):\n%s", diff)
			}
		})
	}
}

func TestConfigPrintingHidesExternalID(t *testing.T) {
	c := Config{Mode: ModeCentral, ExternalID: extID, AllowedAccounts: []string{member1}}
	for name, s := range map[string]string{
		"LogValue": c.LogValue().String(), "%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c),
		"%#v": fmt.Sprintf("%#v", c), "String": c.String(), "pointer %v": fmt.Sprintf("%v", &c),
	} {
		if strings.Contains(s, extID) {
			t.Errorf("%s = %q contains the ExternalId", name, s)
		}
		if !strings.Contains(s, member1) {
			t.Errorf("%s = %q lacks the allowed accounts", name, s)
		}
	}
}

func FuzzParseSecretARN(f *testing.F) {
	f.Add(secretARN(member1, "eu-west-1"))
	f.Add("arn:aws:secretsmanager::1:secret:")
	f.Add("app/db")
	f.Add("arn::secretsmanager:0:000000000000:secret:0")
	f.Fuzz(func(t *testing.T, s string) {
		loc, err := ParseSecretARN(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidSecretARN) {
				t.Fatalf("ParseSecretARN(%q) error %v does not wrap ErrInvalidSecretARN", s, err)
			}
			return
		}
		if !validAccountID(loc.Account) || !regionRE.MatchString(loc.Region) || !KnownPartition(loc.Partition) {
			t.Fatalf("ParseSecretARN(%q) = %+v, want a 12-digit account, a well-formed region and a known partition", s, loc)
		}
		role, err := loc.RoleARN(DefaultRoleName)
		if err != nil {
			t.Fatalf("RoleARN of accepted %q: %v", s, err)
		}
		if want := "arn:" + loc.Partition + ":iam::" + loc.Account + ":role/" + DefaultRoleName; role != want {
			t.Fatalf("RoleARN = %q, want %q", role, want)
		}
	})
}

func FuzzConfigFromEnv(f *testing.F) {
	f.Add("central", member1+","+member2, "*", "o-abcdef1234", extID)
	f.Add("account", "", "", "", "x")
	const canary = "Qz9canary"
	f.Fuzz(func(t *testing.T, mode, allowed, role, org, ext string) {
		ext += canary // the ExternalId, whatever else it holds, carries a marker to look for
		env := map[string]string{EnvMode: mode, EnvAllowedAccounts: allowed, EnvRoleName: role, EnvOrgID: org, EnvExternalID: ext}
		c, err := ConfigFromEnv(envFunc(env))
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
			if strings.Contains(err.Error(), canary) && !strings.Contains(mode+allowed+role+org, canary) {
				t.Fatalf("error %q contains the ExternalId", err)
			}
			return
		}
		if c.Mode != ModeAccount && c.Mode != ModeCentral {
			t.Fatalf("mode %q accepted", c.Mode)
		}
		if c.AllowAnyAccount && c.OrgID == "" {
			t.Fatal("* accepted without an organization ID")
		}
		for _, a := range c.AllowedAccounts {
			if !validAccountID(a) {
				t.Fatalf("allowed account %q accepted", a)
			}
		}
		if c.Mode == ModeAccount && (c.AllowAnyAccount || len(c.AllowedAccounts) > 0) {
			t.Fatal("account mode with an allow-list accepted")
		}
	})
}

func TestSecretsManagerRefusesBeforeSTS(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		secret string
	}{
		{name: "account mode, other account", cfg: Config{Mode: ModeAccount, HomeAccount: home}, secret: secretARN(member1, "eu-west-1")},
		{name: "central, not in list", cfg: Config{Mode: ModeCentral, HomeAccount: home, AllowedAccounts: []string{member1}}, secret: secretARN(outside, "eu-west-1")},
		{name: "central, empty list", cfg: Config{Mode: ModeCentral, HomeAccount: home}, secret: secretARN(member1, "us-east-1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSTSFake(t, home, "")
			c := New(f.config(), tt.cfg)
			_, err := c.SecretsManager(t.Context(), tt.secret, token)
			if !errors.Is(err, ErrAccountNotAllowed) {
				t.Fatalf("SecretsManager error = %v, want ErrAccountNotAllowed", err)
			}
			var nae *AccountNotAllowedError
			if !errors.As(err, &nae) {
				t.Fatalf("error %T is not *AccountNotAllowedError", err)
			}
			if got := f.total(); got != 0 {
				t.Errorf("STS calls = %d, want 0", got)
			}
		})
	}
}

func TestSecretsManagerRefusalWithoutHomeAccountNeverAssumes(t *testing.T) {
	f := newSTSFake(t, home, "")
	c := New(f.config(), Config{Mode: ModeCentral, AllowedAccounts: []string{member1}})
	for range 3 {
		if _, err := c.SecretsManager(t.Context(), secretARN(outside, "eu-west-1"), token); !errors.Is(err, ErrAccountNotAllowed) {
			t.Fatalf("SecretsManager error = %v, want ErrAccountNotAllowed", err)
		}
	}
	if got := f.count("AssumeRole:" + outside); got != 0 {
		t.Errorf("AssumeRole calls = %d, want 0", got)
	}
	if got := f.count("GetCallerIdentity"); got != 1 {
		t.Errorf("GetCallerIdentity calls = %d, want 1 (cached)", got)
	}
}

func TestHomeAccountNeedsNoRole(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		wantLookup int
	}{
		{name: "account mode, home from env", cfg: Config{Mode: ModeAccount, HomeAccount: home}},
		{name: "account mode, home from STS", cfg: Config{Mode: ModeAccount}, wantLookup: 1},
		{name: "central, home not listed", cfg: Config{Mode: ModeCentral, HomeAccount: home, AllowedAccounts: []string{member1}}},
		{name: "central star, home from STS", cfg: Config{Mode: ModeCentral, AllowAnyAccount: true, OrgID: "o-abcdef1234"}, wantLookup: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSTSFake(t, home, "")
			c := New(f.config(), tt.cfg)
			var first any
			for i := range 5 {
				sm, err := c.SecretsManager(t.Context(), secretARN(home, "eu-west-1"), token)
				if err != nil {
					t.Fatalf("SecretsManager: %v", err)
				}
				if i == 0 {
					first = sm
				} else if any(sm) != first {
					t.Errorf("call %d returned a new client; want the cached one", i)
				}
				creds, err := sm.Options().Credentials.Retrieve(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if creds.AccessKeyID != "AKIAHOME0000000000" {
					t.Errorf("home client uses key %q, want the base credentials", creds.AccessKeyID)
				}
			}
			if got := f.count("AssumeRole:" + home); got != 0 {
				t.Errorf("AssumeRole calls = %d, want 0", got)
			}
			if got := f.count("GetCallerIdentity"); got != tt.wantLookup {
				t.Errorf("GetCallerIdentity calls = %d, want %d", got, tt.wantLookup)
			}
		})
	}
}

func TestOneAssumeRolePerAccount(t *testing.T) {
	f := newSTSFake(t, home, extID)
	f.delay = 20 * time.Millisecond
	c := New(f.config(), Config{Mode: ModeCentral, HomeAccount: home, AllowedAccounts: []string{member1, member2}, ExternalID: extID, FunctionName: "rotary-central"})

	type target struct{ account, region string }
	targets := []target{{member1, "eu-west-1"}, {member1, "us-east-1"}, {member2, "eu-west-1"}, {home, "eu-west-1"}}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		tg := targets[i%len(targets)]
		wg.Go(func() {
			sm, err := c.SecretsManager(t.Context(), secretARN(tg.account, tg.region), token)
			if err != nil {
				errs <- err
				return
			}
			if sm.Options().Region != tg.region {
				errs <- fmt.Errorf("client region %q, want %q", sm.Options().Region, tg.region)
				return
			}
			creds, err := sm.Options().Credentials.Retrieve(t.Context())
			if err != nil {
				errs <- err
				return
			}
			want := "ASIA" + tg.account
			if tg.account == home {
				want = "AKIAHOME0000000000"
			}
			if creds.AccessKeyID != want {
				errs <- fmt.Errorf("account %s: client key %q, want %q", tg.account, creds.AccessKeyID, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, acct := range []string{member1, member2, home} {
		want := 1
		if acct == home {
			want = 0
		}
		if got := f.count("AssumeRole:" + acct); got != want {
			t.Errorf("AssumeRole calls for %s = %d, want %d", acct, got, want)
		}
	}
	if got := f.count("GetCallerIdentity"); got != 0 {
		t.Errorf("GetCallerIdentity calls = %d, want 0 (home account configured)", got)
	}
	for _, s := range f.sessions {
		if want := "rotary.rotary-central." + token[:8]; s != want {
			t.Errorf("session name %q, want %q", s, want)
		}
	}
}

func TestAssumeRoleAgainAfterExpiry(t *testing.T) {
	f := newSTSFake(t, home, "")
	f.lifetime = 30 * time.Second // inside the cache's one-minute expiry window
	c := New(f.config(), Config{Mode: ModeCentral, HomeAccount: home, AllowedAccounts: []string{member1}})
	for range 2 {
		if _, err := c.SecretsManager(t.Context(), secretARN(member1, "eu-west-1"), token); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.count("AssumeRole:" + member1); got != 2 {
		t.Errorf("AssumeRole calls = %d, want 2 (credentials expiring)", got)
	}
}

func TestAssumeRoleRefused(t *testing.T) {
	tests := []struct {
		name       string
		externalID string
	}{
		{name: "wrong ExternalId", externalID: "not-the-right-one"},
		{name: "missing ExternalId", externalID: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSTSFake(t, home, extID)
			c := New(f.config(), Config{Mode: ModeCentral, HomeAccount: home, AllowedAccounts: []string{member1}, ExternalID: tt.externalID})
			for i := range 2 {
				_, err := c.SecretsManager(t.Context(), secretARN(member1, "eu-west-1"), token)
				var are *AssumeRoleError
				if !errors.As(err, &are) {
					t.Fatalf("error %v (%T), want *AssumeRoleError", err, err)
				}
				if want := "arn:aws:iam::" + member1 + ":role/" + DefaultRoleName; are.RoleARN != want {
					t.Errorf("RoleARN = %q, want %q", are.RoleARN, want)
				}
				msg := err.Error()
				for _, s := range []string{extID, tt.externalID} {
					if s != "" && strings.Contains(msg, s) {
						t.Errorf("error %q contains an ExternalId", msg)
					}
				}
				if !strings.Contains(msg, "AccessDenied") || !strings.Contains(msg, EnvExternalID) {
					t.Errorf("error %q should carry STS's AccessDenied and point at %s", msg, EnvExternalID)
				}
				if got := f.count("AssumeRole:" + member1); got != i+1 {
					t.Errorf("after call %d AssumeRole calls = %d, want %d (failures are not cached)", i+1, got, i+1)
				}
			}
		})
	}
}

func TestSecretsManagerEndpoint(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		want     string
	}{
		{name: "SECRETS_MANAGER_ENDPOINT set", endpoint: "https://vpce-123.secretsmanager.eu-west-1.vpce.amazonaws.com", want: "https://vpce-123.secretsmanager.eu-west-1.vpce.amazonaws.com"},
		{name: "unset: SDK default", endpoint: "", want: "base"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSTSFake(t, home, "")
			c := New(f.config(), Config{HomeAccount: home, SecretsManagerEndpoint: tt.endpoint})
			sm, err := c.SecretsManager(t.Context(), secretARN(home, "eu-west-1"), token)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == "base" {
				want = f.srv.URL
			}
			if got := sm.Options().BaseEndpoint; got == nil || *got != want {
				t.Errorf("BaseEndpoint = %v, want %q", got, want)
			}
		})
	}
}

func TestSecretsManagerInvalidARN(t *testing.T) {
	f := newSTSFake(t, home, "")
	c := New(f.config(), Config{HomeAccount: home})
	if _, err := c.SecretsManager(t.Context(), "app/db", token); !errors.Is(err, ErrInvalidSecretARN) {
		t.Errorf("error = %v, want ErrInvalidSecretARN", err)
	}
	if got := f.total(); got != 0 {
		t.Errorf("STS calls = %d, want 0", got)
	}
}

func TestSessionName(t *testing.T) {
	tests := []struct {
		name, function, token, want string
	}{
		{name: "typical", function: "rotary-central", token: token, want: "rotary.rotary-central.0f9e8d7c"},
		{name: "no function", function: "", token: token, want: "rotary.0f9e8d7c"},
		{name: "no token", function: "fn", token: "", want: "rotary.fn"},
		{name: "nothing", want: "rotary"},
		{name: "bad characters", function: "fn name/ü", token: "ab cd:ef", want: "rotary.fn-name---.ab-cd-ef"},
		{name: "long function name cut", function: strings.Repeat("f", 80), token: token, want: "rotary." + strings.Repeat("f", 64-len("rotary.")-9) + ".0f9e8d7c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SessionName(tt.function, tt.token)
			if got != tt.want {
				t.Errorf("SessionName(%q, %q) = %q, want %q", tt.function, tt.token, got, tt.want)
			}
			if !sessionNameRE.MatchString(got) {
				t.Errorf("SessionName(%q, %q) = %q is not a valid RoleSessionName", tt.function, tt.token, got)
			}
		})
	}
}

func FuzzSessionName(f *testing.F) {
	f.Add("rotary-central", token)
	f.Add("", "")
	f.Add(strings.Repeat("x", 100), "\x00\xff")
	f.Fuzz(func(t *testing.T, function, token string) {
		got := SessionName(function, token)
		if !sessionNameRE.MatchString(got) {
			t.Fatalf("SessionName(%q, %q) = %q is not a valid RoleSessionName", function, token, got)
		}
	})
}

func TestRoleARN(t *testing.T) {
	tests := []struct {
		name    string
		loc     SecretLocation
		role    string
		want    string
		wantErr bool
	}{
		{name: "aws", loc: SecretLocation{"aws", "us-east-1", member1}, role: DefaultRoleName, want: "arn:aws:iam::" + member1 + ":role/" + DefaultRoleName},
		{name: "gov", loc: SecretLocation{"aws-us-gov", "us-gov-west-1", member1}, role: "r", want: "arn:aws-us-gov:iam::" + member1 + ":role/r"},
		{name: "empty partition", loc: SecretLocation{"", "0", "000000000000"}, role: DefaultRoleName, wantErr: true},
		{name: "unknown partition", loc: SecretLocation{"evil", "us-east-1", member1}, role: DefaultRoleName, wantErr: true},
		{name: "short account", loc: SecretLocation{"aws", "us-east-1", "1"}, role: DefaultRoleName, wantErr: true},
		{name: "role with a path separator", loc: SecretLocation{"aws", "us-east-1", member1}, role: "a/b", wantErr: true},
		{name: "empty role", loc: SecretLocation{"aws", "us-east-1", member1}, role: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.loc.RoleARN(tt.role)
			if (err != nil) != tt.wantErr {
				t.Fatalf("RoleARN(%q) = %q, %v; want error %t", tt.role, got, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("RoleARN(%q) = %q, want %q", tt.role, got, tt.want)
			}
		})
	}
}
