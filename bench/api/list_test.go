package api

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
)

// listPods is the number of pods BenchmarkList10k lists.
const listPods = 10000

// BenchmarkList10k measures listing 10 000 pods. The typed runs decode the
// answer with client-go, as an informer or kubectl would; the raw runs
// only read the body, which leaves the server's share. "consistent" is
// resourceVersion "" (the cache after catching up with the store), "rv0"
// is resourceVersion "0" (the cache as it is), "paged500" is what kubectl
// does: limit=500 pages, read from the store. MB/s counts response bytes
// (not reported for paged runs).
func BenchmarkList10k(b *testing.B) {
	cfg := startServer(b)
	start := time.Now()
	createPods(b.Context(), b, newClient(b, cfg, protobufEncoding), "list", listPods)
	b.Logf("preloaded %d pods in %v", listPods, time.Since(start).Round(time.Millisecond))

	for _, enc := range encodings {
		cs := newClient(b, cfg, enc)
		for _, rv := range []struct{ name, rv string }{{"consistent", ""}, {"rv0", "0"}} {
			opts := metav1.ListOptions{ResourceVersion: rv.rv}
			b.Run(rv.name+"/"+enc.name, func(b *testing.B) {
				ctx := b.Context()
				b.SetBytes(int64(len(listRaw(b, cs, opts))))
				for b.Loop() {
					l, err := cs.CoreV1().Pods(namespace).List(ctx, opts)
					if err != nil {
						b.Fatal(err)
					}
					if len(l.Items) != listPods {
						b.Fatalf("listed %d pods, want %d", len(l.Items), listPods)
					}
				}
			})
		}
		b.Run("rv0/"+enc.name+"/raw", func(b *testing.B) {
			opts := metav1.ListOptions{ResourceVersion: "0"}
			b.SetBytes(int64(len(listRaw(b, cs, opts))))
			for b.Loop() {
				listRaw(b, cs, opts)
			}
		})
		b.Run("paged500/"+enc.name, func(b *testing.B) {
			ctx := b.Context()
			for b.Loop() {
				opts := metav1.ListOptions{Limit: 500}
				n := 0
				for {
					l, err := cs.CoreV1().Pods(namespace).List(ctx, opts)
					if err != nil {
						b.Fatal(err)
					}
					n += len(l.Items)
					if l.Continue == "" {
						break
					}
					opts.Continue = l.Continue
				}
				if n != listPods {
					b.Fatalf("listed %d pods, want %d", n, listPods)
				}
			}
		})
	}
}

// listRaw lists the pods in namespace and returns the response body.
func listRaw(b *testing.B, cs *kubernetes.Clientset, opts metav1.ListOptions) []byte {
	raw, err := cs.CoreV1().RESTClient().Get().
		Namespace(namespace).Resource("pods").
		VersionedParams(&opts, scheme.ParameterCodec).
		Do(b.Context()).Raw()
	if err != nil {
		b.Fatal(err)
	}
	return raw
}
