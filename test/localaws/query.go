package localaws

import (
	"context"
	"encoding/xml"
	"net/http"
)

// Helpers shared by the Query-protocol APIs (STS, RDS, ElastiCache and IAM): injected faults,
// and the XML result or error document.

// The XML namespaces of the Query APIs' documents.
const (
	stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"
	rdsNamespace = "http://rds.amazonaws.com/doc/2014-10-31/"
)

// internalFailure is the 5xx error of STS, RDS and ElastiCache (IAM's is
// iamServiceFailure).
var internalFailure = apiError{500, "InternalFailure", "An internal error occurred."}

// queryFault applies the fault injected on a call before it runs: the error
// to answer with instead (accessDenied for AccessDenied, nil for an API that
// does not model it), or nil once any injected latency has passed.
func queryFault(ctx context.Context, f *faultState, accessDenied *apiError) *apiError {
	return queryFaultWith(ctx, f, accessDenied, internalFailure)
}

// queryFaultWith is queryFault for an API whose 5xx error is internal.
func queryFaultWith(ctx context.Context, f *faultState, accessDenied *apiError, internal apiError) *apiError {
	if f == nil {
		return nil
	}
	switch f.Kind {
	case Throttle:
		return &apiError{400, "Throttling", "Rate exceeded"}
	case InternalError:
		return &internal
	case AccessDenied:
		return accessDenied
	case Latency:
		sleep(ctx, f.Latency)
	}
	return nil
}

// writeQueryResult writes out (an XML document) with status 200, or the
// error document for e, or for the AppliedThenFailed fault f: the call took
// effect, the caller is told it failed.
func writeQueryResult(w http.ResponseWriter, namespace string, f *faultState, out any, e *apiError) {
	writeQueryResultWith(w, namespace, f, out, e, internalFailure)
}

// writeQueryResultWith is writeQueryResult for an API whose 5xx error is
// internal.
func writeQueryResultWith(w http.ResponseWriter, namespace string, f *faultState, out any, e *apiError, internal apiError) {
	if f != nil && f.Kind == AppliedThenFailed {
		e = &internal
	}
	if e != nil {
		writeQueryError(w, namespace, e)
		return
	}
	b, err := xml.Marshal(out)
	if err != nil {
		writeQueryError(w, namespace, &apiError{500, internal.code, "could not encode the response"})
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", newUUID())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// writeQueryError writes a Query API's error document (ErrorResponse in
// namespace): type Sender for a 4xx status, Receiver for a 5xx.
func writeQueryError(w http.ResponseWriter, namespace string, e *apiError) {
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	var body struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Xmlns   string   `xml:"xmlns,attr"`
		Error   struct {
			Type    string `xml:"Type"`
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Error"`
		RequestID string `xml:"RequestId"`
	}
	body.Xmlns = namespace
	body.Error.Type, body.Error.Code, body.Error.Message = typ, e.code, e.msg
	body.RequestID = newUUID()
	b, _ := xml.Marshal(body)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", body.RequestID)
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

// writeXMLError writes STS's error document.
func writeXMLError(w http.ResponseWriter, e *apiError) { writeQueryError(w, stsNamespace, e) }

// writeRDSError writes RDS's error document.
func writeRDSError(w http.ResponseWriter, e *apiError) { writeQueryError(w, rdsNamespace, e) }
