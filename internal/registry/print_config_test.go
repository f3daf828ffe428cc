package registry

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func configGolden() map[schema.GroupKind][]runtime.Object {
	q := resource.MustParse
	return map[schema.GroupKind][]runtime.Object{
		{Kind: "ConfigMap"}: {
			&corev1.ConfigMap{ObjectMeta: om("kube-root-ca.crt", 3*time.Hour), Data: map[string]string{"ca.crt": "..."}},
			&corev1.ConfigMap{ObjectMeta: om("mixed", time.Hour), Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"c": {0}}},
			&corev1.ConfigMap{ObjectMeta: om("empty", time.Hour)},
		},
		{Kind: "Secret"}: {
			&corev1.Secret{ObjectMeta: om("creds", time.Hour), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"user": nil, "password": nil}},
			&corev1.Secret{ObjectMeta: om("tls", time.Hour), Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil, "tls.key": nil, "ca.crt": nil}},
		},
		{Kind: "ServiceAccount"}: {
			&corev1.ServiceAccount{ObjectMeta: om("default", 5*24*time.Hour)},
			&corev1.ServiceAccount{ObjectMeta: om("builder", time.Hour), Secrets: []corev1.ObjectReference{{Name: "builder-token"}}},
		},
		{Kind: "ResourceQuota"}: {
			&corev1.ResourceQuota{
				ObjectMeta: om("compute", time.Hour),
				Status: corev1.ResourceQuotaStatus{
					Hard: corev1.ResourceList{"requests.cpu": q("2"), "pods": q("10"), "limits.memory": q("4Gi"), "limits.cpu": q("4"), "requests.memory": q("2Gi")},
					Used: corev1.ResourceList{"requests.cpu": q("500m"), "pods": q("3"), "limits.cpu": q("1")},
				},
			},
			&corev1.ResourceQuota{ObjectMeta: om("new", time.Second)},
		},
	}
}
