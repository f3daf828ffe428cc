package apiserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/auth/serviceaccount"
)

var tokenRequestGVK = authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")

// Lifetimes of TokenRequest tokens, as upstream.
const (
	defaultTokenSeconds = 3600
	minTokenSeconds     = 600
	maxTokenSeconds     = 1 << 32
	// warnOnlyTokenSeconds is the lifetime kubelets ask for during the
	// migration to bound tokens: such pod-bound tokens for the API get
	// extendedTokenSeconds instead, and a warnafter claim.
	warnOnlyTokenSeconds = 3607
	extendedTokenSeconds = 365 * 24 * 3600
)

// handleTokenRequest serves POST serviceaccounts/{name}/token, as
// upstream's TokenREST: it signs a token for the ServiceAccount, bound to
// a Pod, Secret or Node when spec.boundObjectRef names one, and answers
// the TokenRequest with status.token and status.expirationTimestamp.
func (s *Server) handleTokenRequest(w http.ResponseWriter, r *http.Request, req *request, body []byte, dry bool) error {
	in := req.info
	obj, err := s.decodeBody(r, req, body, tokenRequestGVK, &authenticationv1.TokenRequest{})
	if err != nil {
		return err
	}
	tr := obj.(*authenticationv1.TokenRequest)
	gk := tokenRequestGVK.GroupKind()
	if tr.Name != "" && tr.Name != in.Name {
		return apierrors.NewInvalid(gk, in.Name, field.ErrorList{field.Invalid(field.NewPath("metadata", "name"), tr.Name, "must match the service account name if specified")})
	}
	if tr.Namespace != "" && tr.Namespace != in.Namespace {
		return apierrors.NewInvalid(gk, in.Name, field.ErrorList{field.Invalid(field.NewPath("metadata", "namespace"), tr.Namespace, "must match the service account namespace if specified")})
	}
	saObj, _, err := s.getStored(r.Context(), req.res, in.Namespace, in.Name)
	if err != nil {
		return err
	}
	sa := saObj.(*corev1.ServiceAccount)
	if len(tr.Spec.Audiences) == 0 {
		tr.Spec.Audiences = slices.Clone(s.cfg.APIAudiences)
	}
	if tr.Spec.ExpirationSeconds == nil {
		d := int64(defaultTokenSeconds)
		tr.Spec.ExpirationSeconds = &d
	}
	tr.Name, tr.Namespace = sa.Name, sa.Namespace
	now := s.now()
	tr.CreationTimestamp = metav1.NewTime(now.Truncate(time.Second))
	tr.Status = authenticationv1.TokenRequestStatus{}
	if errs := validateTokenRequest(tr); len(errs) > 0 {
		return apierrors.NewInvalid(gk, "", errs)
	}
	if err := s.admitSubresource(r.Context(), req, tr, tokenRequestGVK, dry); err != nil {
		return err
	}

	issue := serviceaccount.Request{ServiceAccount: sa, Audiences: tr.Spec.Audiences, IssuedAt: now}
	if ref := tr.Spec.BoundObjectRef; ref != nil {
		if err := s.bindToken(r.Context(), &issue, ref, in.Namespace); err != nil {
			return err
		}
	}
	exp := time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
	issue.Expiration = exp
	if issue.Pod != nil && *tr.Spec.ExpirationSeconds == warnOnlyTokenSeconds && len(auth.Intersect(tr.Spec.Audiences, s.cfg.APIAudiences)) == len(tr.Spec.Audiences) {
		issue.WarnAfter, issue.Expiration = exp, extendedTokenSeconds*time.Second
	}
	token, _, err := s.cfg.ServiceAccountIssuer.Issue(issue)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	out := tr.DeepCopy()
	out.Status = authenticationv1.TokenRequestStatus{
		Token:               token,
		ExpirationTimestamp: metav1.NewTime(now.Add(exp).Truncate(time.Second)),
	}
	return s.writeOne(w, req, http.StatusCreated, out, nil)
}

// validateTokenRequest is upstream's static validation of a TokenRequest.
func validateTokenRequest(tr *authenticationv1.TokenRequest) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec", "expirationSeconds")
	switch e := *tr.Spec.ExpirationSeconds; {
	case e < minTokenSeconds:
		errs = append(errs, field.Invalid(p, e, "may not specify a duration less than 10 minutes"))
	case e > maxTokenSeconds:
		errs = append(errs, field.TooLong(p, e, maxTokenSeconds))
	}
	return errs
}

// bindToken looks up the object ref names and records it in issue: a Pod
// of the same ServiceAccount (and the pod's Node, when it exists), a
// Secret, or a Node; ref.uid, when set, must be the object's.
func (s *Server) bindToken(ctx context.Context, issue *serviceaccount.Request, ref *authenticationv1.BoundObjectReference, namespace string) error {
	gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
	if gvk.Group != "" {
		return badRequest("cannot bind token to object of type %s", gvk.String())
	}
	get := func(resource, ns string) (runtime.Object, error) {
		res := s.lookup(corev1.SchemeGroupVersion, resource)
		o, _, err := s.getStored(ctx, res, ns, ref.Name)
		return o, err
	}
	var uid string
	switch gvk.Kind {
	case "Pod":
		o, err := get("pods", namespace)
		if err != nil {
			return err
		}
		pod := o.(*corev1.Pod)
		if pod.Spec.ServiceAccountName != issue.ServiceAccount.Name {
			return badRequest("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", issue.ServiceAccount.Name)
		}
		issue.Pod, uid = pod, string(pod.UID)
		if pod.Spec.NodeName != "" {
			// A pod-bound token names the pod's node when the node exists.
			if n, _, err := s.getStored(ctx, s.lookup(corev1.SchemeGroupVersion, "nodes"), "", pod.Spec.NodeName); err == nil {
				issue.Node = n.(*corev1.Node)
			} else if !apierrors.IsNotFound(err) {
				return err
			}
		}
	case "Secret":
		o, err := get("secrets", namespace)
		if err != nil {
			return err
		}
		issue.Secret = o.(*corev1.Secret)
		uid = string(issue.Secret.UID)
	case "Node":
		o, err := get("nodes", "")
		if err != nil {
			return err
		}
		issue.Node = o.(*corev1.Node)
		uid = string(issue.Node.UID)
	default:
		return badRequest("cannot bind token to object of type %s", gvk.String())
	}
	if ref.UID != "" && string(ref.UID) != uid {
		return apierrors.NewConflict(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, ref.Name,
			fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
	}
	return nil
}

// serveOpenIDMetadata serves the ServiceAccount issuer's OpenID discovery
// document or its key set, as upstream; an issuer that is not an https URL
// has no discovery document.
func (s *Server) serveOpenIDMetadata(w http.ResponseWriter, req *request, path string) {
	iss := s.cfg.ServiceAccountIssuer
	var b []byte
	var err error
	contentType := mediaJSON
	if path == serviceaccount.JWKSPath {
		b, err = iss.JWKS()
		contentType = "application/jwk-set+json"
	} else {
		jwks := "https://" + net.JoinHostPort(s.cfg.AdvertiseAddress.String(), strconv.Itoa(s.cfg.Port)) + serviceaccount.JWKSPath
		if b, err = iss.OpenIDConfiguration(jwks); err != nil {
			s.writeError(w, req, errNoResource)
			return
		}
	}
	if err != nil {
		s.writeError(w, req, apierrors.NewInternalError(err))
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
