package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/rotary-secrets/rotary/test/fleet"
)

// Baseline is what AWS's Python rotation template does for a single-user
// database rotation (SecretsManagerRDSPostgreSQLRotationSingleUser and its
// MySQL sibling): 14 Secrets Manager calls, and at least three logins of
// which at least one fails (setSecret first tries the pending password).
var Baseline = BaselineFigures{
	Source:          "AWS's Python single-user rotation template (aws-samples/aws-secrets-manager-rotation-lambdas)",
	SMCalls:         14,
	MinLogins:       3,
	MinFailedLogins: 1,
}

// BaselineFigures are the baseline's counts.
type BaselineFigures struct {
	Source          string `json:"source"`
	SMCalls         int    `json:"smCallsPerRotation"`
	MinLogins       int    `json:"minLoginsPerRotation"`
	MinFailedLogins int    `json:"minFailedLoginsPerRotation"`
}

// Report is the whole benchmark report (the JSON written by make bench).
type Report struct {
	Generated string            `json:"generated"`
	Machine   string            `json:"machine"`
	Baseline  BaselineFigures   `json:"baseline"`
	Rotators  []RotatorFigures  `json:"rotators"`
	Functions []FunctionFigures `json:"functions"`
	// AccountModeSTS is the STS calls of an account-mode cold start and
	// rotation (AccountModeSTSCalls); nil when not measured.
	AccountModeSTS *int          `json:"accountModeStsCalls,omitempty"`
	Fleet          *fleet.Result `json:"fleet,omitempty"`    // in-process central engine
	FleetRIE       *fleet.Result `json:"fleetRIE,omitempty"` // built central function under the RIE
	Audit          *AuditResult  `json:"audit,omitempty"`    // fleet audit at scale (built functions/audit)
}

// RotatorFigures are one rotator's per-rotation counts and per-step costs on
// the in-process path (engine + rotator, in-memory Secrets Manager).
type RotatorFigures struct {
	Rotator        string             `json:"rotator"`
	Rotations      int                `json:"rotationsMeasured"`
	SMCalls        float64            `json:"smCallsPerRotation"`
	SMCallsByStep  map[string]float64 `json:"smCallsByStep"`
	Logins         float64            `json:"dbLoginsPerRotation"`
	FailedLogins   float64            `json:"dbFailedLoginsPerRotation"`
	AllocsPerStep  map[string]int64   `json:"allocsPerStep"`
	BytesPerStep   map[string]int64   `json:"bytesPerStep"`
	MicrosPerStep  map[string]int64   `json:"microsPerStep"`
	LocalAWSCalls  int                `json:"smCallsThroughLocalaws,omitempty"` // cross-check: one RotateSecret-driven rotation
	HasTargetLogin bool               `json:"hasDatabase"`
}

// FunctionFigures are one built function's size, cold start and memory.
type FunctionFigures struct {
	Function    string  `json:"function"`
	ZipBytes    int64   `json:"zipBytes"`    // linux/arm64 bootstrap, zipped (deflate)
	BinaryBytes int64   `json:"binaryBytes"` // linux/arm64 bootstrap
	RotatedWith string  `json:"rotatedWith,omitempty"`
	ColdStartMs float64 `json:"coldStartMs,omitempty"` // process start (first invoke) to createSecret done, under the RIE
	WarmStepMs  float64 `json:"warmCreateSecretMs,omitempty"`
	PeakRSSKiB  int64   `json:"peakRssKiB,omitempty"` // VmHWM of the function process after two rotations
	Note        string  `json:"note,omitempty"`
}

var steps = []string{"createSecret", "setSecret", "testSecret", "finishSecret"}

// Print writes the human-readable report.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "Rotary benchmark report — %s — %s\n\n", r.Generated, r.Machine)
	fmt.Fprintf(w, "Per rotation (happy path, in-process engine + rotator; baseline: %s)\n", r.Baseline.Source)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rotator\tSM calls\tvs baseline\ttarget logins/calls\tfailed\tallocs/step c,s,t,f\tKiB/step c,s,t,f\tµs/step c,s,t,f\t")
	for _, f := range r.Rotators {
		logins, failed := "-", "-"
		if f.HasTargetLogin {
			logins, failed = trim(f.Logins), trim(f.FailedLogins)
		}
		var a, b, u []string
		for _, s := range steps {
			a = append(a, fmt.Sprint(f.AllocsPerStep[s]))
			b = append(b, fmt.Sprintf("%.1f", float64(f.BytesPerStep[s])/1024))
			u = append(u, fmt.Sprint(f.MicrosPerStep[s]))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", f.Rotator, trim(f.SMCalls), r.Baseline.SMCalls, logins, failed,
			strings.Join(a, ","), strings.Join(b, ","), strings.Join(u, ","))
	}
	fmt.Fprintf(tw, "AWS Python template\t%d\t\t≥ %d\t≥ %d\t\t\t\t\n", r.Baseline.SMCalls, r.Baseline.MinLogins, r.Baseline.MinFailedLogins)
	_ = tw.Flush()

	fmt.Fprintln(w, "\nBuilt functions (linux/arm64, CGO_ENABLED=0, -trimpath, -tags lambda.norpc, -ldflags '-s -w'; cold start and RSS on this host's architecture under the Lambda RIE)")
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "function\tzip KiB\tbinary KiB\tcold start ms\twarm createSecret ms\tpeak RSS MiB\trotated\t")
	fs := slices.Clone(r.Functions)
	slices.SortFunc(fs, func(a, b FunctionFigures) int { return strings.Compare(a.Function, b.Function) })
	for _, f := range fs {
		cold, warm, rss := "-", "-", "-"
		if f.ColdStartMs > 0 {
			cold, warm, rss = fmt.Sprintf("%.0f", f.ColdStartMs), fmt.Sprintf("%.1f", f.WarmStepMs), fmt.Sprintf("%.1f", float64(f.PeakRSSKiB)/1024)
		}
		with := f.RotatedWith
		if f.Note != "" {
			with = f.Note
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t\n", f.Function, float64(f.ZipBytes)/1024, float64(f.BinaryBytes)/1024, cold, warm, rss, with)
	}
	_ = tw.Flush()
	if r.AccountModeSTS != nil {
		fmt.Fprintf(w, "  account mode, account from the invoked function's ARN (no ROTARY_HOME_ACCOUNT): the built generic function's cold start and one rotation made %d STS calls\n", *r.AccountModeSTS)
	}

	if r.Fleet != nil || r.FleetRIE != nil {
		fmt.Fprintln(w, "\nFleet (central mode, generic secrets — no database needed; latency includes the SDK's backoff after throttling)")
	}
	if r.Fleet != nil {
		fmt.Fprintln(w, "  in-process engine: "+r.Fleet.Summary())
	}
	if r.FleetRIE != nil {
		fmt.Fprintln(w, "  built central function under the RIE: "+r.FleetRIE.Summary())
	}
	if r.Audit != nil {
		fmt.Fprintln(w, "\nFleet audit (built functions/audit, central mode, metadata only; every account through its member role)")
		fmt.Fprintln(w, "  "+r.Audit.Summary())
	}
}

func trim(f float64) string {
	s := fmt.Sprintf("%.2f", f)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}
