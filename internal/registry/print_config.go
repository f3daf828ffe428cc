package registry

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func configMapTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Data", "string", corev1.ConfigMap{}.SwaggerDoc()["data"]),
			ageColumn(),
		},
		row: rowOf(func(c *corev1.ConfigMap, now time.Time) []any {
			return []any{c.Name, int64(len(c.Data) + len(c.BinaryData)), since(c.CreationTimestamp, now)}
		}),
	}
}

func secretTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Type", "string", corev1.Secret{}.SwaggerDoc()["type"]),
			column("Data", "string", corev1.Secret{}.SwaggerDoc()["data"]),
			ageColumn(),
		},
		row: rowOf(func(s *corev1.Secret, now time.Time) []any {
			return []any{s.Name, string(s.Type), int64(len(s.Data)), since(s.CreationTimestamp, now)}
		}),
		fields: fieldsOf(secretFields),
	}
}

func serviceAccountTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Secrets", "string", corev1.ServiceAccount{}.SwaggerDoc()["secrets"]),
			ageColumn(),
		},
		row: rowOf(func(sa *corev1.ServiceAccount, now time.Time) []any {
			return []any{sa.Name, int64(len(sa.Secrets)), since(sa.CreationTimestamp, now)}
		}),
	}
}

func resourceQuotaTable() table {
	return table{
		columns: []TableColumn{
			nameColumn(),
			column("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
			column("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
			ageColumn(),
		},
		row: rowOf(func(q *corev1.ResourceQuota, now time.Time) []any {
			request, limit := quotaCells(q)
			return []any{q.Name, request, limit, since(q.CreationTimestamp, now)}
		}),
	}
}

// quotaCells lists "resource: used/hard" for each hard limit in the
// status, sorted by name: "limits.*" resources in the LIMIT cell, all
// others in the REQUEST cell.
func quotaCells(q *corev1.ResourceQuota) (request, limit string) {
	names := make([]corev1.ResourceName, 0, len(q.Status.Hard))
	for n := range q.Status.Hard {
		names = append(names, n)
	}
	slices.Sort(names)
	var requests, limits []string
	for _, n := range names {
		used, hard := q.Status.Used[n], q.Status.Hard[n]
		cell := fmt.Sprintf("%s: %s/%s", n, used.String(), hard.String())
		if prefix, _, ok := strings.Cut(string(n), "."); ok && prefix == "limits" {
			limits = append(limits, cell)
		} else {
			requests = append(requests, cell)
		}
	}
	return strings.Join(requests, ", "), strings.Join(limits, ", ")
}
