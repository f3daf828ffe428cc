package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"berth.dev/berth/internal/store"
)

// toStatus turns any error into the metav1.Status a client sees. It is the
// one place errors become API errors.
func toStatus(err error) *metav1.Status {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		st := se.Status()
		return &st
	}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &apierrors.NewTimeoutError("request did not complete in time", 0).ErrStatus
	case errors.Is(err, store.ErrCompacted):
		return &apierrors.NewResourceExpired("The resourceVersion for the provided list is too old.").ErrStatus
	case errors.Is(err, errTooLarge):
		st := apierrors.NewTimeoutError("Too large resource version", 1).ErrStatus
		st.Details.Causes = append(st.Details.Causes, metav1.StatusCause{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"})
		return &st
	}
	return &apierrors.NewInternalError(err).ErrStatus
}

func notFound(r *resource, name string) error {
	return apierrors.NewNotFound(r.GroupVersionResource.GroupResource(), name)
}

func alreadyExists(r *resource, name string) error {
	return apierrors.NewAlreadyExists(r.GroupVersionResource.GroupResource(), name)
}

func conflict(r *resource, name string) error {
	return apierrors.NewConflict(r.GroupVersionResource.GroupResource(), name,
		errors.New(registryConflictMessage))
}

const registryConflictMessage = "the object has been modified; please apply your changes to the latest version and try again"

func invalid(r *resource, name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: r.Group, Kind: r.Kind}, name, errs)
}

func invalidKind(group, kind, name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: group, Kind: kind}, name, errs)
}

func unsupportedMediaType(ct string) error {
	return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "", fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got %q)", ct), 0, false)
}

func notAcceptable(msg string) error {
	return apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schema.GroupResource{}, "", msg, 0, false)
}

func badRequest(format string, args ...any) error {
	return apierrors.NewBadRequest(fmt.Sprintf(format, args...))
}

func methodNotSupported(r *resource, verb string) error {
	return apierrors.NewMethodNotSupported(r.GroupVersionResource.GroupResource(), verb)
}

// writeError writes err as a Status in the request's negotiated format.
func (s *Server) writeError(w http.ResponseWriter, req *request, err error) {
	st := toStatus(err)
	if st.Code == http.StatusInternalServerError {
		s.log.Error("internal error", "path", req.info.Path, "verb", req.info.Verb, "err", err)
	}
	st.Kind, st.APIVersion = "Status", "v1"
	if req.audit != nil {
		req.audit.SetStatus(st)
	}
	s.writeObject(w, req, int(st.Code), st)
}
