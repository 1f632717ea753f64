package fleet

import (
	"context"
	"fmt"
	"strings"

	"github.com/rotary-secrets/rotary/test/e2e/lambdarie"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// RIEPool runs Size copies of a built function (normally central) under the
// Lambda Runtime Interface Emulator, each a warm container serving one
// invocation at a time, like Lambda's concurrent execution environments. Set
// Config.Function to the pool and Config.Setup to its Setup.
type RIEPool struct {
	RIE       string // the RIE binary
	Bootstrap string // the function, built for this host
	Size      int
	Accounts  int // member accounts the function may reach (Config.Accounts)

	fns  []*lambdarie.Function
	free chan string
}

var _ localaws.Function = (*RIEPool)(nil)

// Setup starts the copies against the emulator at url, in central mode.
func (p *RIEPool) Setup(url string, creds localaws.Credentials) error {
	var members []string
	for i := range p.Accounts {
		members = append(members, MemberAccount(i+1))
	}
	env := []string{
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey,
		"AWS_ENDPOINT_URL=" + url,
		"ROTARY_MODE=central",
		"ROTARY_ALLOWED_ACCOUNTS=" + strings.Join(members, ","),
		"ROTARY_HOME_ACCOUNT=" + CentralAccount,
	}
	p.free = make(chan string, p.Size)
	for range p.Size {
		fn, err := lambdarie.Start(context.Background(), p.RIE, p.Bootstrap, env)
		if err != nil {
			p.Stop()
			return fmt.Errorf("start the function under the RIE: %w", err)
		}
		p.fns = append(p.fns, fn)
		p.free <- fn.InvokeURL
	}
	return nil
}

// Invoke sends the payload to a free copy, waiting for one if all are busy.
func (p *RIEPool) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var u string
	select {
	case u = <-p.free:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { p.free <- u }()
	return localaws.HTTPFunction(u).Invoke(ctx, payload)
}

// Stop ends every copy.
func (p *RIEPool) Stop() {
	for _, f := range p.fns {
		f.Stop()
	}
}
