package encryption_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/internal/apiserver/apiservertest"
)

// TestSecretsThroughTheAPI writes Secrets through the API server and finds
// them readable through it, stored with upstream's aescbc prefix, and
// nowhere in the store's file in plain or base64 form once it is closed.
func TestSecretsThroughTheAPI(t *testing.T) {
	s := apiservertest.Start(t)
	ctx := context.Background()
	c := kubernetes.NewForConfigOrDie(s.Admin)
	values := []string{"created-value-7d3f9a", "string-data-value-c41b", "updated-value-99e2aa"}
	sec, err := c.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "s1"},
		Data:       map[string][]byte{"a": []byte(values[0])},
		StringData: map[string]string{"b": values[1]},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec.Data["a"] = []byte(values[2])
	if _, err := c.CoreV1().Secrets("default").Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "plain"}, Data: map[string]string{"k": "configmap-visible-5e1"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := c.CoreV1().Secrets("default").Get(ctx, "s1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data["a"]) != values[2] || string(got.Data["b"]) != values[1] {
		t.Errorf("secret read back as %q", got.Data)
	}
	list, err := c.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) == 0 {
		t.Fatalf("list: %v, %d items", err, len(list.Items))
	}
	raw, err := s.Store.Get(ctx, "/registry/core/secrets/default/s1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw.Value, []byte("k8s:enc:aescbc:v1:key1:")) {
		t.Errorf("stored secret starts %q, want the aescbc prefix", raw.Value[:min(len(raw.Value), 30)])
	}

	s.Stop()
	file, err := os.ReadFile(s.StorePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(file, []byte("configmap-visible-5e1")) {
		t.Fatal("the ConfigMap's value is not in the file: the scan below would prove nothing")
	}
	for _, v := range values {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if bytes.Contains(file, []byte(form)) {
				t.Errorf("the store's file contains the secret value %q", form)
			}
		}
	}
}
