package localaws_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/test/localaws"
)

// BenchmarkFleetReads reads 1,000 secrets spread over 20 accounts from
// parallel goroutines, the shape of the fleet load test.
func BenchmarkFleetReads(b *testing.B) {
	s := localaws.Start(b)
	const accounts, perAccount = 20, 50
	type target struct {
		c   *secretsmanager.Client
		arn string
	}
	var targets []target
	for i := range accounts {
		c := smClient(s, s.AddAccount(fmt.Sprintf("4000000000%02d", i)))
		for j := range perAccount {
			out, err := c.CreateSecret(b.Context(), &secretsmanager.CreateSecretInput{Name: aws.String(fmt.Sprintf("fleet/%d", j)), SecretString: aws.String(`{"password":"x"}`)})
			if err != nil {
				b.Fatal(err)
			}
			targets = append(targets, target{c, aws.ToString(out.ARN)})
		}
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tg := targets[int(next.Add(1))%len(targets)]
			if _, err := tg.c.GetSecretValue(b.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(tg.arn)}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
