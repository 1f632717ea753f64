package localaws

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The fake RDS API: DescribeDBInstances and DescribeDBClusters (Query
// protocol, version 2014-10-31), enough for the resolver of RDS-managed master
// secrets (shared/rdsx.Endpoints). Databases are registered by tests with
// AddDBInstance and AddDBCluster; a caller sees only those of its own account
// and region, as with RDS (no cross-account resource sharing is modelled).

// DBInstance is a DB instance the fake RDS API describes.
type DBInstance struct {
	Account    string // 12 digits
	Region     string // default: the server's region
	Identifier string // DBInstanceIdentifier, e.g. "orders-db"
	Engine     string // e.g. "postgres", "mariadb"
	Address    string // Endpoint.Address
	Port       int    // Endpoint.Port
}

// ARN returns arn:aws:rds:<Region>:<Account>:db:<Identifier>.
func (d DBInstance) ARN() string {
	return "arn:aws:rds:" + d.Region + ":" + d.Account + ":db:" + d.Identifier
}

// DBCluster is a DB cluster the fake RDS API describes.
type DBCluster struct {
	Account    string
	Region     string // default: the server's region
	Identifier string // DBClusterIdentifier
	Engine     string // e.g. "aurora-postgresql"
	Endpoint   string // the writer endpoint's host name
	Port       int
}

// ARN returns arn:aws:rds:<Region>:<Account>:cluster:<Identifier>.
func (c DBCluster) ARN() string {
	return "arn:aws:rds:" + c.Region + ":" + c.Account + ":cluster:" + c.Identifier
}

// rdsDB is either kind, keyed by ARN in Server.rds.
type rdsDB struct {
	instance *DBInstance
	cluster  *DBCluster
}

// AddDBInstance registers a DB instance (replacing one with the same ARN) and
// returns its ARN, the value RDS puts in a managed master secret's
// aws:rds:primaryDBInstanceArn tag.
func (s *Server) AddDBInstance(d DBInstance) string {
	if !validAccountID(d.Account) || d.Identifier == "" {
		panic(fmt.Sprintf("localaws: AddDBInstance: need a 12-digit account and an identifier, got %q, %q", d.Account, d.Identifier))
	}
	if d.Region == "" {
		d.Region = s.opts.Region
	}
	return s.addRDS(d.Account, d.ARN(), rdsDB{instance: &d})
}

// AddDBCluster registers a DB cluster and returns its ARN (the value of a
// managed master secret's aws:rds:primaryDBClusterArn tag).
func (s *Server) AddDBCluster(c DBCluster) string {
	if !validAccountID(c.Account) || c.Identifier == "" {
		panic(fmt.Sprintf("localaws: AddDBCluster: need a 12-digit account and an identifier, got %q, %q", c.Account, c.Identifier))
	}
	if c.Region == "" {
		c.Region = s.opts.Region
	}
	return s.addRDS(c.Account, c.ARN(), rdsDB{cluster: &c})
}

// addRDS registers db under arn (replacing one with the same ARN), makes
// sure account exists and returns arn.
func (s *Server) addRDS(account, arn string, db rdsDB) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[account] = true
	if s.rds == nil {
		s.rds = map[string]rdsDB{}
	}
	s.rds[arn] = db
	return arn
}

// PlantSystemTag puts a tag on a secret (by full ARN) without TagResource's
// checks, as RDS does on the master user secrets it manages: keys with the
// reserved "aws:" prefix, such as aws:rds:primaryDBInstanceArn, which no
// TagResource call may set. It is for tests; the call is not counted.
func (s *Server) PlantSystemTag(secretARN, key, value string) error {
	region, account, _, ok := parseSecretARN(secretARN)
	if !ok {
		return fmt.Errorf("localaws: PlantSystemTag: %q is not a secret ARN", secretARN)
	}
	st := s.storeFor(account, region)
	st.mu.Lock()
	defer st.mu.Unlock()
	sec := st.byARN[secretARN]
	if sec == nil {
		return fmt.Errorf("localaws: PlantSystemTag: no secret %s", secretARN)
	}
	sec.tags = mergeTags(sec.tags, []Tag{{Key: key, Value: value}})
	return nil
}

// isRDSAction reports whether a Query action is one of the fake RDS API's.
func isRDSAction(action string) bool {
	return action == "DescribeDBInstances" || action == "DescribeDBClusters"
}

func (s *Server) serveRDS(w http.ResponseWriter, r *http.Request, form url.Values, body []byte) {
	action := form.Get("Action")
	caller, region, aerr := s.authenticate(r, body, false)
	if aerr != nil {
		writeRDSError(w, aerr)
		return
	}
	account := caller.creds.Account
	f := s.count(action, account)
	if e := queryFault(r.Context(), f, nil); e != nil {
		writeRDSError(w, e)
		return
	}
	id, cluster := form.Get("DBInstanceIdentifier"), action == "DescribeDBClusters"
	if cluster {
		id = form.Get("DBClusterIdentifier")
	}
	out, e := s.describeRDS(account, region, id, cluster)
	writeQueryResult(w, rdsNamespace, f, out, e)
}

// rdsLookup finds the databases of (account, region) that id names (an
// identifier, case-insensitive, or an ARN); all of them when id is empty.
func (s *Server) rdsLookup(account, region, id string, cluster bool) []rdsDB {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []rdsDB
	for arn, db := range s.rds {
		if (db.cluster != nil) != cluster {
			continue
		}
		acct, reg, ident := "", "", ""
		if cluster {
			acct, reg, ident = db.cluster.Account, db.cluster.Region, db.cluster.Identifier
		} else {
			acct, reg, ident = db.instance.Account, db.instance.Region, db.instance.Identifier
		}
		if acct != account || reg != region {
			continue
		}
		if id == "" || strings.EqualFold(id, ident) || id == arn {
			out = append(out, db)
		}
	}
	return out
}

type rdsEndpoint struct {
	Address string `xml:"Address"`
	Port    int    `xml:"Port"`
}

type rdsInstance struct {
	DBInstanceIdentifier string      `xml:"DBInstanceIdentifier"`
	DBInstanceArn        string      `xml:"DBInstanceArn"`
	Engine               string      `xml:"Engine"`
	DBInstanceStatus     string      `xml:"DBInstanceStatus"`
	Endpoint             rdsEndpoint `xml:"Endpoint"`
}

type describeDBInstancesResponse struct {
	XMLName xml.Name         `xml:"DescribeDBInstancesResponse"`
	Xmlns   string           `xml:"xmlns,attr"`
	Result  []rdsInstance    `xml:"DescribeDBInstancesResult>DBInstances>DBInstance"`
	Meta    responseMetadata `xml:"ResponseMetadata"`
}

type rdsCluster struct {
	DBClusterIdentifier string `xml:"DBClusterIdentifier"`
	DBClusterArn        string `xml:"DBClusterArn"`
	Engine              string `xml:"Engine"`
	Status              string `xml:"Status"`
	Endpoint            string `xml:"Endpoint"`
	Port                int    `xml:"Port"`
}

type describeDBClustersResponse struct {
	XMLName xml.Name         `xml:"DescribeDBClustersResponse"`
	Xmlns   string           `xml:"xmlns,attr"`
	Result  []rdsCluster     `xml:"DescribeDBClustersResult>DBClusters>DBCluster"`
	Meta    responseMetadata `xml:"ResponseMetadata"`
}

// describeRDS answers DescribeDBInstances (DescribeDBClusters with
// cluster): the databases of (account, region) that id names, all of them
// when id is empty; naming one that does not exist is DBInstanceNotFound
// (DBClusterNotFoundFault).
func (s *Server) describeRDS(account, region, id string, cluster bool) (any, *apiError) {
	dbs := s.rdsLookup(account, region, id, cluster)
	switch {
	case id != "" && len(dbs) == 0 && cluster:
		return nil, errf(404, "DBClusterNotFoundFault", "DBCluster %s not found.", id)
	case id != "" && len(dbs) == 0:
		return nil, errf(404, "DBInstanceNotFound", "DBInstance %s not found.", id)
	}
	meta := responseMetadata{newUUID()}
	if cluster {
		out := describeDBClustersResponse{Xmlns: rdsNamespace, Meta: meta}
		for _, db := range dbs {
			c := db.cluster
			out.Result = append(out.Result, rdsCluster{
				DBClusterIdentifier: c.Identifier, DBClusterArn: c.ARN(), Engine: c.Engine, Status: "available",
				Endpoint: c.Endpoint, Port: c.Port,
			})
		}
		return out, nil
	}
	out := describeDBInstancesResponse{Xmlns: rdsNamespace, Meta: meta}
	for _, db := range dbs {
		d := db.instance
		out.Result = append(out.Result, rdsInstance{
			DBInstanceIdentifier: d.Identifier, DBInstanceArn: d.ARN(), Engine: d.Engine, DBInstanceStatus: "available",
			Endpoint: rdsEndpoint{Address: d.Address, Port: d.Port},
		})
	}
	return out, nil
}
