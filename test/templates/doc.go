// Package templates checks Rotary's CloudFormation and SAM templates offline:
// it parses them with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt,
// …), and validates resource types, property names, required properties and
// nested property types against a pinned, trimmed copy of a maintained
// machine-readable specification (the AWS CDK service specification database,
// npm @aws-cdk/aws-service-spec, which covers AWS::Serverless::* too), checks
// that every !Ref, !GetAtt, !Sub, !If and Condition target exists, and that
// every BuildMethod: makefile resource has its build-<LogicalId> target in the
// root Makefile.
//
// The pinned copy is testdata/spec.json; scripts/refresh-schemas.sh (make
// schemas) regenerates it with cmd/trimspec.
//
// What it must not do: reach the network in tests, hand-write the list of
// valid properties (they come from the specification), or deploy anything.
// It is not a replacement for cfn-lint or `sam validate`; it catches the
// mistakes that would otherwise first show up during a deployment.
package templates
