package password

import (
	"fmt"
	"testing"
)

// TestPickUniform checks the sampling helper over a 200-character set, where
// byte-modulo sampling (random byte % 200) is strongly biased: 56 characters
// would come up with probability 2/256 and 144 with 1/256, putting the
// chi-square statistic near 5000 for this sample. Uniform sampling gives a
// statistic with 199 degrees of freedom (mean 199, sd 20); the bound 3×199 is
// exceeded with probability below e^-80, so the test does not flake.
func TestPickUniform(t *testing.T) {
	set := make([]byte, 200)
	for i := range set {
		set[i] = byte(i + 1)
	}
	const n = 40000
	counts := make([]int, 256)
	for range n {
		c, err := pick(string(set))
		if err != nil {
			t.Fatal(err)
		}
		counts[c]++
	}
	expected := float64(n) / float64(len(set))
	chi2 := 0.0
	for _, c := range set {
		d := float64(counts[c]) - expected
		chi2 += d * d / expected
	}
	if counts[0] != 0 || counts[201] != 0 {
		t.Fatalf("pick returned bytes outside the set")
	}
	df := float64(len(set) - 1)
	if chi2 > 3*df {
		t.Errorf("chi-square = %.1f over %d draws, want at most %.0f: pick is biased", chi2, n, 3*df)
	}
}

func TestPickSingle(t *testing.T) {
	for range 100 {
		c, err := pick("q")
		if err != nil || c != 'q' {
			t.Fatalf("pick(q) = %q, %v", c, err)
		}
	}
}

func TestDistinct(t *testing.T) {
	for _, tt := range []struct{ n, k int }{{1, 1}, {5, 5}, {32, 4}, {4096, 5}, {10, 0}} {
		t.Run(fmt.Sprintf("%d of %d", tt.k, tt.n), func(t *testing.T) {
			for range 200 {
				got, err := distinct(tt.n, tt.k)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != tt.k {
					t.Fatalf("distinct(%d, %d) has %d positions", tt.n, tt.k, len(got))
				}
				seen := map[int]bool{}
				for _, p := range got {
					if p < 0 || p >= tt.n || seen[p] {
						t.Fatalf("distinct(%d, %d) = %v: out of range or repeated", tt.n, tt.k, got)
					}
					seen[p] = true
				}
			}
		})
	}
	t.Run("every position reachable", func(t *testing.T) {
		// 1 of 8, 2000 draws: a position is missed with probability 8×(7/8)^2000.
		hits := make([]int, 8)
		for range 2000 {
			got, err := distinct(8, 1)
			if err != nil {
				t.Fatal(err)
			}
			hits[got[0]]++
		}
		for i, h := range hits {
			if h == 0 {
				t.Errorf("position %d never chosen: %v", i, hits)
			}
		}
	})
}
