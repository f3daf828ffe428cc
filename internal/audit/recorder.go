package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Body size limits: a request body over the API server's own limit is
// refused anyway; a larger response (a big list) is recorded without its
// body.
const (
	maxRequestBody  = 3 << 20
	maxResponseBody = 10 << 20
)

// Recorder is the record of one request at a level above None. It belongs
// to the goroutine serving the request and is not safe for concurrent use.
type Recorder struct {
	a  *Auditor
	d  Decision
	ev Event
	// code is the response status code, 0 until the response starts.
	code   int
	status *metav1.Status // the error Status the response carried, if any
	// reqBody and respBody capture bodies at the levels that record them.
	reqBody, respBody *capture
	reqType, respType string
	done              bool
}

// Level returns the level the request is recorded at.
func (rec *Recorder) Level() Level { return rec.d.Level }

func (rec *Recorder) emit(stage Stage) {
	if rec.d.Omits(stage) {
		return
	}
	rec.ev.Stage = stage
	rec.ev.StageTimestamp = metav1.NewMicroTime(rec.a.now().UTC())
	rec.a.emitEvent(&rec.ev)
}

// SetAuthorization records the authorizer's decision (allowed or not) and
// its reason as upstream's annotations.
func (rec *Recorder) SetAuthorization(allowed bool, reason string) {
	decision := "forbid"
	if allowed {
		decision = "allow"
	}
	if rec.ev.Annotations == nil {
		rec.ev.Annotations = map[string]string{}
	}
	rec.ev.Annotations[AnnotationDecision] = decision
	rec.ev.Annotations[AnnotationReason] = reason
}

// SetObjectMeta fills the object reference's namespace, name and uid
// where the request's URL left them empty, from the request's object.
func (rec *Recorder) SetObjectMeta(namespace, name, uid string) {
	ref := rec.ev.ObjectRef
	if ref == nil {
		return
	}
	if ref.Namespace == "" {
		ref.Namespace = namespace
	}
	if ref.Name == "" {
		ref.Name = name
	}
	if ref.UID == "" {
		ref.UID = uid
	}
}

// SetStatus records the Status of an error response.
func (rec *Recorder) SetStatus(st *metav1.Status) {
	rec.status = &metav1.Status{Status: st.Status, Message: st.Message, Reason: st.Reason, Details: st.Details, Code: st.Code}
}

// CaptureRequestBody makes r's body recorded as it is read, when the level
// records request bodies.
func (rec *Recorder) CaptureRequestBody(r *http.Request) {
	if !rec.d.Level.AtLeast(LevelRequest) || r.Body == nil || r.Body == http.NoBody {
		return
	}
	rec.reqBody = &capture{max: maxRequestBody}
	rec.reqType = r.Header.Get("Content-Type")
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.TeeReader(r.Body, rec.reqBody), r.Body}
}

// WrapWriter returns w reporting the response's status code to the record,
// and capturing the body when the level records responses. A long-running
// request (a watch, exec) emits ResponseStarted when its response starts,
// and its body is never captured. The returned writer keeps w's Flush and
// Hijack, and sets the Audit-Id header.
func (rec *Recorder) WrapWriter(w http.ResponseWriter, longRunning bool) http.ResponseWriter {
	w.Header().Set("Audit-Id", rec.ev.AuditID)
	rw := &responseWriter{ResponseWriter: w, rec: rec, longRunning: longRunning}
	if rec.d.Level.AtLeast(LevelRequestResponse) && !longRunning {
		rec.respBody = &capture{max: maxResponseBody}
	}
	return rw
}

// ToJSON converts a body of the given media type to JSON; ok false leaves
// it out of the record.
type ToJSON func(contentType string, body []byte) (json.RawMessage, bool)

// Complete emits ResponseComplete with the response's status and, at the
// levels that record them, the bodies converted by toJSON.
func (rec *Recorder) Complete(toJSON ToJSON) {
	if rec.done {
		return
	}
	rec.done = true
	switch {
	case rec.status != nil:
		if rec.code != 0 {
			rec.status.Code = int32(rec.code)
		}
		rec.ev.ResponseStatus = rec.status
	case rec.code != 0:
		rec.ev.ResponseStatus = &metav1.Status{Code: int32(rec.code)}
	default:
		// Nothing was written: upstream records a success.
		rec.ev.ResponseStatus = &metav1.Status{Code: http.StatusOK, Status: metav1.StatusSuccess, Message: "Connection closed early"}
	}
	if rec.reqBody != nil && !rec.reqBody.over && rec.reqBody.buf.Len() > 0 {
		rec.ev.RequestObject = rec.object(toJSON, rec.reqType, rec.reqBody.buf.Bytes())
	}
	if rec.respBody != nil && !rec.respBody.over && rec.respBody.buf.Len() > 0 {
		rec.ev.ResponseObject = rec.object(toJSON, rec.respType, rec.respBody.buf.Bytes())
	}
	rec.emit(StageResponseComplete)
}

func (rec *Recorder) object(toJSON ToJSON, contentType string, body []byte) json.RawMessage {
	obj, ok := toJSON(contentType, body)
	if !ok {
		return nil
	}
	if rec.d.OmitManagedFields {
		obj = withoutManagedFields(obj)
	}
	return obj
}

// Panic emits the Panic stage for a handler that panicked with v.
func (rec *Recorder) Panic(v any) {
	if rec.done {
		return
	}
	rec.done = true
	rec.ev.ResponseStatus = &metav1.Status{
		Code: http.StatusInternalServerError, Status: metav1.StatusFailure,
		Reason: metav1.StatusReasonInternalError, Message: fmt.Sprintf("APIServer panic'd: %v", v),
	}
	rec.emit(StagePanic)
}

// responseStarted records the status code once.
func (rec *Recorder) responseStarted(code int, longRunning bool, header http.Header) {
	if rec.code != 0 {
		return
	}
	rec.code = code
	rec.respType = header.Get("Content-Type")
	if longRunning {
		rec.ev.ResponseStatus = &metav1.Status{Code: int32(code)}
		rec.emit(StageResponseStarted)
		rec.ev.ResponseStatus = nil
	}
}

// responseWriter reports the status code and captures the body.
type responseWriter struct {
	http.ResponseWriter
	rec         *Recorder
	longRunning bool
}

func (w *responseWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.rec.responseStarted(code, w.longRunning, w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.rec.responseStarted(http.StatusOK, w.longRunning, w.Header())
	if w.rec.respBody != nil {
		_, _ = w.rec.respBody.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// Flush flushes w's writer if it can.
func (w *responseWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands over the connection, recording 101 Switching Protocols as
// upstream does; it fails where the writer cannot (HTTP/2).
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.rec.responseStarted(http.StatusSwitchingProtocols, w.longRunning, w.Header())
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach w's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// capture keeps up to max bytes; more sets over and drops what it had.
type capture struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (c *capture) Write(b []byte) (int, error) {
	if c.over {
		return len(b), nil
	}
	if c.buf.Len()+len(b) > c.max {
		c.over = true
		c.buf = bytes.Buffer{}
		return len(b), nil
	}
	return c.buf.Write(b)
}

// withoutManagedFields drops metadata.managedFields from a JSON object and
// from the items of a list.
func withoutManagedFields(obj json.RawMessage) json.RawMessage {
	var v map[string]any
	if err := json.Unmarshal(obj, &v); err != nil {
		return obj
	}
	strip := func(o any) {
		if m, ok := o.(map[string]any); ok {
			if md, ok := m["metadata"].(map[string]any); ok {
				delete(md, "managedFields")
			}
		}
	}
	strip(v)
	if items, ok := v["items"].([]any); ok {
		for _, it := range items {
			strip(it)
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return obj
	}
	return b
}
