package apiserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"berth.dev/berth/internal/store"
)

// selector is a request's label and field selectors.
type selector struct {
	labels labels.Selector
	fields fields.Selector
}

func (s selector) matches(o *cachedObject) bool {
	return s.labels.Matches(o.labels) && s.fields.Matches(o.fields)
}

func (s selector) everything() bool { return s.labels.Empty() && s.fields.Empty() }

// selectors parses labelSelector and fieldSelector, refusing fields the
// resource does not support, as upstream.
func (s *Server) selectors(req *request) (selector, error) {
	ls, err := labels.Parse(req.query.Get("labelSelector"))
	if err != nil {
		return selector{}, badRequest("unable to parse requirement: %v", err)
	}
	fs, err := fields.ParseSelector(req.query.Get("fieldSelector"))
	if err != nil {
		return selector{}, badRequest("%v", err)
	}
	supported := req.res.fieldSet(req.res.newObject(), "", "")
	for _, r := range fs.Requirements() {
		if _, ok := supported[r.Field]; !ok {
			return selector{}, badRequest("field label not supported: %s", r.Field)
		}
	}
	return selector{labels: ls, fields: fs}, nil
}

// continueToken is the opaque continue value, in upstream's layout.
type continueToken struct {
	APIVersion      string `json:"v"`
	ResourceVersion int64  `json:"rv"`
	StartKey        string `json:"start"`
}

func encodeContinue(rev int64, lastKeyRel string) string {
	b, _ := json.Marshal(continueToken{APIVersion: "meta.k8s.io/v1", ResourceVersion: rev, StartKey: lastKeyRel + "\x00"})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, badRequest("continue key is not valid: %v", err)
	}
	if err := json.Unmarshal(b, &t); err != nil || t.APIVersion != "meta.k8s.io/v1" || t.ResourceVersion <= 0 || !strings.HasSuffix(t.StartKey, "\x00") || strings.Contains(t.StartKey, "..") {
		return t, badRequest("continue key is not valid")
	}
	t.StartKey = strings.TrimSuffix(t.StartKey, "\x00")
	return t, nil
}

const expiredContinueMessage = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."

// listResult is a page of objects and its list metadata.
type listResult struct {
	items    []*cachedObject
	rev      int64
	cont     string
	hasLimit bool
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request, req *request) error {
	res, in := req.res, req.info
	sel, err := s.selectors(req)
	if err != nil {
		return err
	}
	q := req.query
	var limit int64
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.ParseInt(v, 10, 64); err != nil || limit < 0 {
			return badRequest("invalid limit: %q", v)
		}
	}
	rv, match, cont := q.Get("resourceVersion"), q.Get("resourceVersionMatch"), q.Get("continue")
	switch match {
	case "", string(metav1.ResourceVersionMatchNotOlderThan), string(metav1.ResourceVersionMatchExact):
	default:
		return badRequest("resourceVersionMatch: unsupported value %q", match)
	}
	if match != "" && rv == "" {
		return badRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
	}
	if cont != "" && rv != "" && rv != "0" {
		return badRequest("specifying resource version is not allowed when using continue")
	}
	prefix := res.listPrefix(in.Namespace)
	var lr listResult
	switch {
	case cont != "":
		tok, err := decodeContinue(cont)
		if err != nil {
			return err
		}
		lr, err = s.listStore(r.Context(), res, prefix, sel, tok.ResourceVersion, limit, prefix+tok.StartKey)
		if errors.Is(err, store.ErrCompacted) {
			// As upstream, offer a token that goes on at the current state.
			expired := apierrors.NewResourceExpired(expiredContinueMessage)
			if cur, _, rerr := s.store.Revision(r.Context()); rerr == nil {
				expired.ErrStatus.ListMeta.Continue = encodeContinue(cur, tok.StartKey)
			}
			return expired
		}
		if err != nil {
			return err
		}
	case match == string(metav1.ResourceVersionMatchExact):
		rev, err := parseRV(rv)
		if err != nil {
			return err
		}
		if lr, err = s.listStore(r.Context(), res, prefix, sel, rev, limit, ""); err != nil {
			if errors.Is(err, store.ErrCompacted) {
				return apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d", rev))
			}
			return err
		}
	case limit > 0 && rv == "":
		if lr, err = s.listStore(r.Context(), res, prefix, sel, 0, limit, ""); err != nil {
			return err
		}
	default:
		// Served from the cache: rv "" is a consistent read (the cache
		// catches up with the store first), "0" any state, N at least N.
		var min int64
		switch rv {
		case "":
			if min, _, err = s.store.Revision(r.Context()); err != nil {
				return err
			}
		case "0":
		default:
			if min, err = parseRV(rv); err != nil {
				return err
			}
		}
		items, rev, err := s.cache.snapshot(r.Context(), res.storageResource(), prefix, min)
		if err != nil {
			return err
		}
		lr.rev = rev
		for _, o := range items {
			if o = res.view(o); sel.matches(o) {
				lr.items = append(lr.items, o)
			}
		}
		if limit > 0 && rv != "0" && int64(len(lr.items)) > limit {
			// Paging over the cache snapshot: continue reads the store at rev.
			last := lr.items[limit-1]
			lr.items = lr.items[:limit]
			lr.cont = encodeContinue(rev, strings.TrimPrefix(last.key, prefix))
		}
	}
	return s.writeList(w, req, lr)
}

// listStore reads a page from the store at rev (0: current), filtering by
// sel and reading on until limit objects matched or the prefix is done.
func (s *Server) listStore(ctx context.Context, res *resource, prefix string, sel selector, rev, limit int64, after string) (listResult, error) {
	lr := listResult{hasLimit: limit > 0}
	opts := store.ListOptions{Revision: rev, Limit: limit, Continue: after}
	for {
		page, err := s.store.List(ctx, prefix, opts)
		if err != nil {
			return lr, err
		}
		lr.rev, opts.Revision = page.Revision, page.Revision
		for i, kv := range page.Items {
			o, err := res.decodeStored(kv)
			if err != nil {
				return lr, err
			}
			if !sel.matches(o) {
				continue
			}
			lr.items = append(lr.items, o)
			if limit > 0 && int64(len(lr.items)) == limit {
				if i < len(page.Items)-1 || page.More {
					lr.cont = encodeContinue(page.Revision, strings.TrimPrefix(kv.Key, prefix))
				}
				return lr, nil
			}
		}
		if !page.More || len(page.Items) == 0 {
			return lr, nil
		}
		opts.Continue = page.Items[len(page.Items)-1].Key
	}
}

// writeList encodes a list: JSON and protobuf are assembled from each
// object's cached encoding; other forms go through a typed list.
func (s *Server) writeList(w http.ResponseWriter, req *request, lr listResult) error {
	res := req.res
	lm := metav1.ListMeta{ResourceVersion: strconv.FormatInt(lr.rev, 10), Continue: lr.cont}
	switch req.out.as {
	case "Table":
		objs := make([]runtime.Object, len(lr.items))
		for i, o := range lr.items {
			objs[i] = o.obj
		}
		t, err := s.table(req, objs, lm.ResourceVersion, lm.Continue)
		if err != nil {
			return err
		}
		s.writeObject(w, req, http.StatusOK, t)
		return nil
	case "PartialObjectMetadataList", "PartialObjectMetadata":
		list := &metav1.PartialObjectMetadataList{ListMeta: lm}
		list.TypeMeta = metav1.TypeMeta{APIVersion: "meta.k8s.io/" + req.out.asVersion, Kind: "PartialObjectMetadataList"}
		for _, o := range lr.items {
			list.Items = append(list.Items, *partialMetadata(o.obj, req.out.asVersion))
		}
		s.writeObject(w, req, http.StatusOK, list)
		return nil
	}
	switch req.out.mediaType {
	case mediaJSON:
		var buf bytes.Buffer
		apiVersion, kind := res.listGVK.ToAPIVersionAndKind()
		lmJSON, err := json.Marshal(lm)
		if err != nil {
			return err
		}
		fmt.Fprintf(&buf, `{"kind":%q,"apiVersion":%q,"metadata":%s,"items":[`, kind, apiVersion, lmJSON)
		for i, o := range lr.items {
			b, err := s.objectJSON(o)
			if err != nil {
				return err
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(b)
		}
		buf.WriteString("]}\n")
		s.writeBytes(w, req, http.StatusOK, mediaJSON, buf.Bytes())
		return nil
	case mediaProtobuf:
		lmBytes, err := lm.Marshal()
		if err != nil {
			return err
		}
		items := make([][]byte, len(lr.items))
		for i, o := range lr.items {
			if items[i], err = objectProto(o); err != nil {
				return err
			}
		}
		b, err := protoEnvelope(res.listGVK, protoList(lmBytes, items))
		if err != nil {
			return err
		}
		s.writeBytes(w, req, http.StatusOK, mediaProtobuf, b)
		return nil
	}
	list := res.newList()
	objs := make([]runtime.Object, len(lr.items))
	for i, o := range lr.items {
		objs[i] = o.obj
	}
	if err := meta.SetList(list, objs); err != nil {
		return err
	}
	la, _ := meta.ListAccessor(list)
	la.SetResourceVersion(lm.ResourceVersion)
	la.SetContinue(lm.Continue)
	list.GetObjectKind().SetGroupVersionKind(res.listGVK)
	s.writeObject(w, req, http.StatusOK, list)
	return nil
}
