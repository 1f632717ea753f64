package localaws

import (
	"context"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The fake ElastiCache user API: DescribeUsers, ModifyUser and
// ListTagsForResource of a user (Query protocol, version 2015-02-02), enough
// for the elasticache rotator. Users are registered by tests with
// AddElastiCacheUser, with their tags; a caller sees only those of its own
// account and region. ModifyUser with Passwords hands the new list
// to the user's Apply (a real redis-server's ACL SETUSER, RedisACL) and
// leaves the user "modifying" until the next DescribeUsers, as ElastiCache
// does while it propagates; the access string is never changed by a
// Passwords-only call. Behaviour follows the ElastiCache API reference
// (ModifyUser: at most two passwords, each 16 to 128 characters;
// UserNotFound; InvalidUserState for a user that is not active;
// InvalidParameterValue), see the package README.

// ecNamespace is the XML namespace of ElastiCache's Query responses.
const ecNamespace = "http://elasticache.amazonaws.com/doc/2015-02-02/"

// ElastiCacheUser is an RBAC user the fake ElastiCache API describes.
type ElastiCacheUser struct {
	Account      string // 12 digits
	Region       string // default: the server's region
	UserID       string
	UserName     string
	AccessString string // default "on ~* +@all"
	// Authentication is "password" (default), "iam" or "no-password".
	Authentication string
	// Apply makes passwords the user's passwords on the cache (nil: none).
	Apply func(ctx context.Context, userName string, passwords []string) error
	// Tags are the user's tags (ListTagsForResource), e.g. rotary:rotate
	// and rotary:secret.
	Tags map[string]string
}

// ARN returns arn:aws:elasticache:<Region>:<Account>:user:<UserID>.
func (u ElastiCacheUser) ARN() string {
	return "arn:aws:elasticache:" + u.Region + ":" + u.Account + ":user:" + u.UserID
}

type ecUser struct {
	ElastiCacheUser
	passwords int
	status    string
}

// AddElastiCacheUser registers a user with passwords passwords (already set
// on the cache) and returns its ARN, the secret's user_arn.
func (s *Server) AddElastiCacheUser(u ElastiCacheUser, passwords int) string {
	if !validAccountID(u.Account) || u.UserID == "" || u.UserName == "" {
		panic(fmt.Sprintf("localaws: AddElastiCacheUser: need a 12-digit account, a user ID and a name, got %q, %q, %q", u.Account, u.UserID, u.UserName))
	}
	if u.Region == "" {
		u.Region = s.opts.Region
	}
	if u.AccessString == "" {
		u.AccessString = "on ~* +@all"
	}
	if u.Authentication == "" {
		u.Authentication = "password"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[u.Account] = true
	if s.ecUsers == nil {
		s.ecUsers = map[string]*ecUser{}
	}
	u.Tags = maps.Clone(u.Tags)
	s.ecUsers[u.ARN()] = &ecUser{ElastiCacheUser: u, passwords: passwords, status: "active"}
	return u.ARN()
}

// ElastiCacheUserStatus returns a user's status and password count.
func (s *Server) ElastiCacheUserStatus(arn string) (status string, passwords int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.ecUsers[arn]
	if u == nil {
		return "", 0, false
	}
	return u.status, u.passwords, true
}

// isElastiCacheAction reports whether a Query action is one of the fake
// ElastiCache API's.
func isElastiCacheAction(action string) bool {
	return action == "DescribeUsers" || action == "ModifyUser" || action == "ListTagsForResource"
}

func (s *Server) serveElastiCache(w http.ResponseWriter, r *http.Request, form url.Values, body []byte) {
	action := form.Get("Action")
	caller, region, aerr := s.authenticate(r, body, false)
	if aerr != nil {
		writeECError(w, aerr)
		return
	}
	account := caller.creds.Account
	s.logElastiCache(caller, account, region, form)
	f := s.count(action, account)
	if e := queryFault(r.Context(), f, nil); e != nil {
		writeECError(w, e)
		return
	}
	var (
		out any
		e   *apiError
	)
	switch action {
	case "DescribeUsers":
		out, e = s.describeUsers(account, region, form.Get("UserId"))
	case "ListTagsForResource":
		out, e = s.listUserTags(account, region, form.Get("ResourceName"))
	default:
		out, e = s.modifyUser(r.Context(), account, region, form)
	}
	if e != nil {
		// A call that failed is not turned into AppliedThenFailed's error.
		writeECError(w, e)
		return
	}
	writeQueryResult(w, ecNamespace, f, out, nil)
}

type ecAuthentication struct {
	Type          string `xml:"Type"`
	PasswordCount int    `xml:"PasswordCount"`
}

type ecUserXML struct {
	UserID         string           `xml:"UserId"`
	UserName       string           `xml:"UserName"`
	Status         string           `xml:"Status"`
	Engine         string           `xml:"Engine"`
	AccessString   string           `xml:"AccessString"`
	Authentication ecAuthentication `xml:"Authentication"`
	ARN            string           `xml:"ARN"`
}

func (u *ecUser) xml() ecUserXML {
	return ecUserXML{UserID: u.UserID, UserName: u.UserName, Status: u.status, Engine: "redis", AccessString: u.AccessString,
		Authentication: ecAuthentication{Type: u.Authentication, PasswordCount: u.passwords}, ARN: u.ARN()}
}

type describeUsersResponse struct {
	XMLName xml.Name         `xml:"DescribeUsersResponse"`
	Xmlns   string           `xml:"xmlns,attr"`
	Users   []ecUserXML      `xml:"DescribeUsersResult>Users>member"`
	Meta    responseMetadata `xml:"ResponseMetadata"`
}

type modifyUserResponse struct {
	XMLName xml.Name         `xml:"ModifyUserResponse"`
	Xmlns   string           `xml:"xmlns,attr"`
	User    ecUserXML        `xml:"ModifyUserResult"`
	Meta    responseMetadata `xml:"ResponseMetadata"`
}

type ecTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type listTagsForResourceResponse struct {
	XMLName xml.Name         `xml:"ListTagsForResourceResponse"`
	Xmlns   string           `xml:"xmlns,attr"`
	Tags    []ecTag          `xml:"ListTagsForResourceResult>TagList>Tag"`
	Meta    responseMetadata `xml:"ResponseMetadata"`
}

// ecLookup returns the user userID of (account, region), nil if none.
// Callers hold s.mu.
func (s *Server) ecLookup(account, region, userID string) *ecUser {
	return s.ecUsers["arn:aws:elasticache:"+region+":"+account+":user:"+userID]
}

func (s *Server) describeUsers(account, region, userID string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := describeUsersResponse{Xmlns: ecNamespace, Meta: responseMetadata{newUUID()}}
	if userID != "" {
		u := s.ecLookup(account, region, userID)
		if u == nil {
			return nil, errf(404, "UserNotFound", "User %s not found.", userID)
		}
		out.Users = append(out.Users, u.xml())
		if u.status == "modifying" {
			u.status = "active" // applied: the next description says so
		}
		return out, nil
	}
	for _, u := range s.ecUsers {
		if u.Account == account && u.Region == region {
			out.Users = append(out.Users, u.xml())
		}
	}
	return out, nil
}

// listUserTags is ListTagsForResource for a user ARN of the caller's account
// and region (the only resources the fake has): a malformed ARN or one of
// another kind is InvalidARN, a user the caller cannot see UserNotFound.
// Tags come sorted by key.
func (s *Server) listUserTags(account, region, arn string) (any, *apiError) {
	if arn == "" {
		return nil, errf(400, "MissingParameter", "The request must contain the parameter ResourceName.")
	}
	p := strings.Split(arn, ":")
	if len(p) != 7 || p[0] != "arn" || p[2] != "elasticache" || p[6] == "" {
		return nil, errf(400, "InvalidARN", "ARN %s is invalid.", arn)
	}
	if p[5] != "user" {
		return nil, errf(400, "InvalidARN", "the fake ElastiCache API has only users, not %s", p[5])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.ecUsers[arn]
	if u == nil || p[1] != "aws" || p[3] != region || p[4] != account {
		return nil, errf(404, "UserNotFound", "User %s not found.", p[6])
	}
	out := listTagsForResourceResponse{Xmlns: ecNamespace, Meta: responseMetadata{newUUID()}}
	for _, k := range slices.Sorted(maps.Keys(u.Tags)) {
		out.Tags = append(out.Tags, ecTag{Key: k, Value: u.Tags[k]})
	}
	return out, nil
}

func (s *Server) modifyUser(ctx context.Context, account, region string, form url.Values) (any, *apiError) {
	userID := form.Get("UserId")
	if userID == "" {
		return nil, errf(400, "MissingParameter", "The request must contain the parameter UserId.")
	}
	var passwords []string
	for i := 1; ; i++ {
		p, ok := form["Passwords.member."+strconv.Itoa(i)]
		if !ok {
			break
		}
		passwords = append(passwords, p[0])
	}
	for k := range form {
		if k != "Action" && k != "Version" && k != "UserId" && !strings.HasPrefix(k, "Passwords.member.") {
			return nil, errf(400, "InvalidParameterCombination", "the fake ElastiCache API takes only UserId and Passwords, not %s", k)
		}
	}
	if len(passwords) == 0 {
		return nil, errf(400, "InvalidParameterCombination", "No modifications were requested.")
	}
	if len(passwords) > 2 {
		return nil, errf(400, "InvalidParameterValue", "A user can have at most 2 passwords.")
	}
	for _, p := range passwords {
		if len(p) < 16 || len(p) > 128 {
			return nil, errf(400, "InvalidParameterValue", "Passwords must be between 16 and 128 characters.")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.ecLookup(account, region, userID)
	if u == nil {
		return nil, errf(404, "UserNotFound", "User %s not found.", userID)
	}
	if u.status != "active" {
		return nil, errf(400, "InvalidUserState", "User %s is not in active state.", userID)
	}
	if u.Authentication != "password" {
		return nil, errf(400, "InvalidParameterCombination", "User %s does not use password authentication.", userID)
	}
	if u.Apply != nil {
		if err := u.Apply(ctx, u.UserName, passwords); err != nil {
			return nil, errf(500, "InternalFailure", "the cache refused the passwords")
		}
	}
	u.passwords = len(passwords)
	u.status = "modifying"
	return modifyUserResponse{Xmlns: ecNamespace, User: u.xml(), Meta: responseMetadata{newUUID()}}, nil
}

// writeECError writes ElastiCache's Query error document.
func writeECError(w http.ResponseWriter, e *apiError) { writeQueryError(w, ecNamespace, e) }
