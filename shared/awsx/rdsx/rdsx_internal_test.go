package rdsx

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/rotary-secrets/rotary/shared/awsx"
)

// fakeRDS answers DescribeDBInstances and DescribeDBClusters in the RDS query
// protocol for one instance and one cluster, and records the identifiers asked.
func fakeRDS(t *testing.T) (*rds.Client, *[]string) {
	t.Helper()
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		w.Header().Set("Content-Type", "text/xml")
		switch form.Get("Action") {
		case "DescribeDBInstances":
			id := form.Get("DBInstanceIdentifier")
			asked = append(asked, id)
			if !strings.HasSuffix(id, ":db:db-1") {
				w.WriteHeader(404)
				fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>DBInstanceNotFound</Code><Message>DBInstance not found</Message></Error></ErrorResponse>`)
				return
			}
			fmt.Fprint(w, `<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances><DBInstance>
<DBInstanceIdentifier>db-1</DBInstanceIdentifier><Endpoint><Address>db-1.abc.eu-west-1.rds.amazonaws.com</Address><Port>5433</Port></Endpoint>
</DBInstance></DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></DescribeDBInstancesResponse>`)
		case "DescribeDBClusters":
			asked = append(asked, form.Get("DBClusterIdentifier"))
			fmt.Fprint(w, `<DescribeDBClustersResponse><DescribeDBClustersResult><DBClusters><DBCluster>
<DBClusterIdentifier>cl-1</DBClusterIdentifier><Endpoint>cl-1.cluster-abc.eu-west-1.rds.amazonaws.com</Endpoint><Port>5432</Port>
</DBCluster></DBClusters></DescribeDBClustersResult><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></DescribeDBClustersResponse>`)
		default:
			w.WriteHeader(400)
		}
	}))
	t.Cleanup(srv.Close)
	client := rds.New(rds.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	})
	return client, &asked
}

func TestResolveRDS(t *testing.T) {
	const (
		instARN    = "arn:aws:rds:eu-west-1:111111111111:db:db-1"
		clusterARN = "arn:aws:rds:eu-west-1:111111111111:cluster:cl-1"
	)
	tests := []struct {
		name                string
		instance, cluster   string // tag values
		userInst, userClust string // user secret identifiers
		wantHost            string
		wantPort            int
		wantErr             bool
		foreign             bool // refused before any RDS call
	}{
		{name: "instance", instance: instARN, wantHost: "db-1.abc.eu-west-1.rds.amazonaws.com", wantPort: 5433},
		{name: "instance with matching identifier", instance: instARN, userInst: "DB-1", wantHost: "db-1.abc.eu-west-1.rds.amazonaws.com", wantPort: 5433},
		{name: "instance with other identifier", instance: instARN, userInst: "db-2", wantErr: true},
		{name: "cluster", cluster: clusterARN, userClust: clusterARN, wantHost: "cl-1.cluster-abc.eu-west-1.rds.amazonaws.com", wantPort: 5432},
		{name: "cluster with other identifier", cluster: clusterARN, userClust: "cl-2", wantErr: true},
		{name: "instance not found", instance: "arn:aws:rds:eu-west-1:111111111111:db:gone", wantErr: true},
		{name: "instance in another account", instance: "arn:aws:rds:eu-west-1:222222222222:db:db-1", wantErr: true, foreign: true},
		{name: "instance in another region", instance: "arn:aws:rds:us-east-1:111111111111:db:db-1", wantErr: true, foreign: true},
		{name: "cluster in another partition", cluster: "arn:aws-cn:rds:eu-west-1:111111111111:cluster:cl-1", wantErr: true, foreign: true},
		{name: "cluster tag naming an instance", cluster: instARN, wantErr: true, foreign: true},
		{name: "instance tag not an ARN", instance: "db-1", wantErr: true, foreign: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, asked := fakeRDS(t)
			loc := awsx.SecretLocation{Partition: "aws", Region: "eu-west-1", Account: "111111111111"}
			host, port, err := resolveRDS(t.Context(), client, loc, tt.instance, tt.cluster, tt.userInst, tt.userClust)
			if (err != nil) != tt.wantErr {
				t.Fatalf("resolveRDS: %v, want error %v", err, tt.wantErr)
			}
			if tt.foreign && (!errors.Is(err, ErrForeignRDSResource) || len(*asked) > 0) {
				t.Errorf("resolveRDS: %v after %d RDS calls, want ErrForeignRDSResource and none", err, len(*asked))
			}
			if host != tt.wantHost || port != tt.wantPort {
				t.Errorf("resolveRDS = %s:%d, want %s:%d", host, port, tt.wantHost, tt.wantPort)
			}
		})
	}
}
