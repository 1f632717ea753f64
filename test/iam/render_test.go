package iam

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestRender resolves the intrinsics the templates use, Fn::ForEach of
// AWS::LanguageExtensions included, and keeps only resources whose condition
// holds.
func TestRender(t *testing.T) {
	dir := t.TempDir()
	src := `Transform: [AWS::LanguageExtensions]
Parameters:
  Name: {Type: String, Default: fn}
  Accounts: {Type: CommaDelimitedList, Default: ""}
  Org: {Type: String, Default: ""}
Mappings:
  Env: {prod: {Suffix: "-p"}}
Conditions:
  HasOrg: !Not [!Equals [!Ref Org, ""]]
  HasAccounts: !Not [!Equals [!Join ["", !Ref Accounts], ""]]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
      Policies:
        - PolicyName: !Sub "${Name}${AWS::Region}"
          PolicyDocument:
            Statement:
              - Sid: S
                Effect: Allow
                Action: sts:AssumeRole
                Resource: !Sub
                  - arn:${AWS::Partition}:iam::*:role/${N}${X}
                  - N: !Ref Name
                    X: !FindInMap [Env, prod, Suffix]
                Condition: !If [HasOrg, {StringEquals: {aws:ResourceOrgID: !Ref Org}}, !Ref AWS::NoValue]
  Fn::ForEach::Perms:
    - Acct
    - !Ref Accounts
    - Perm${Acct}:
        Type: AWS::Lambda::Permission
        Condition: HasAccounts
        Properties:
          FunctionName: !GetAtt Fn.Arn
          Action: lambda:InvokeFunction
          Principal: secretsmanager.amazonaws.com
          SourceAccount: !Ref Acct
  Fn:
    Type: AWS::Lambda::Function
`
	if err := os.WriteFile(filepath.Join(dir, "t.yaml"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	st := Stack{File: "t.yaml", Account: "111111111111", Region: "eu-west-1", Params: map[string]string{"Accounts": "222222222222,333333333333"},
		Optional: map[string]string{"NotInTemplate": "x"},
		Attrs:    map[string]string{"Role.Arn": "arn:aws:iam::111111111111:role/r", "Fn.Arn": "arn:aws:lambda:eu-west-1:111111111111:function:fn"}}
	r, err := Render(dir, st)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(r.Policies)
	want := `[{"Name":"t.yaml Role trust policy","Kind":"trust","Attached":"arn:aws:iam::111111111111:role/r","Document":{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"}}],"Version":"2012-10-17"}},` +
		`{"Name":"t.yaml Role policy fneu-west-1","Kind":"identity","Attached":"arn:aws:iam::111111111111:role/r","Document":{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Resource":"arn:aws:iam::*:role/fn-p","Sid":"S"}]}},` +
		`{"Name":"t.yaml Lambda permissions","Kind":"resource","Attached":"arn:aws:lambda:eu-west-1:111111111111:function:fn","Document":{"Statement":[{"Action":"lambda:InvokeFunction","Condition":{"StringEquals":{"aws:SourceAccount":"222222222222"}},"Effect":"Allow","Principal":{"Service":"secretsmanager.amazonaws.com"},"Resource":"arn:aws:lambda:eu-west-1:111111111111:function:fn","Sid":"Perm222222222222"}],"Version":"2012-10-17"}},` +
		`{"Name":"t.yaml Lambda permissions","Kind":"resource","Attached":"arn:aws:lambda:eu-west-1:111111111111:function:fn","Document":{"Statement":[{"Action":"lambda:InvokeFunction","Condition":{"StringEquals":{"aws:SourceAccount":"333333333333"}},"Effect":"Allow","Principal":{"Service":"secretsmanager.amazonaws.com"},"Resource":"arn:aws:lambda:eu-west-1:111111111111:function:fn","Sid":"Perm333333333333"}],"Version":"2012-10-17"}}]`
	if string(got) != want {
		t.Errorf("rendered\n%s\nwant\n%s", got, want)
	}
	st.Params = map[string]string{"Bogus": "1"}
	if _, err := Render(dir, st); err == nil {
		t.Error("a parameter the template does not declare was accepted")
	}
}
