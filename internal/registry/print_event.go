package registry

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// eventColumns are the columns of both Event kinds, which upstream stores
// and prints as one. Unlike every other kind, NAME is last and wide-only.
func eventColumns() []TableColumn {
	doc := corev1.Event{}.SwaggerDoc()
	ref := corev1.ObjectReference{}.SwaggerDoc()
	name := nameColumn()
	name.Priority = 1
	return []TableColumn{
		column("Last Seen", "string", doc["lastTimestamp"]),
		column("Type", "string", doc["type"]),
		column("Reason", "string", doc["reason"]),
		column("Object", "string", doc["involvedObject"]),
		wide(column("Subobject", "string", ref["fieldPath"])),
		wide(column("Source", "string", doc["source"])),
		column("Message", "string", doc["message"]),
		wide(column("First Seen", "string", doc["firstTimestamp"])),
		wide(column("Count", "string", doc["count"])),
		name,
	}
}

func coreEventTable() table {
	return table{
		columns: eventColumns(),
		row: rowOf(func(e *corev1.Event, now time.Time) []any {
			v := eventView{
				name: e.Name, eventType: e.Type, reason: e.Reason, message: e.Message,
				object: e.InvolvedObject, source: e.Source,
				reportingController: e.ReportingController, reportingInstance: e.ReportingInstance,
				first: e.FirstTimestamp, last: e.LastTimestamp, eventTime: e.EventTime, count: e.Count,
			}
			if s := e.Series; s != nil {
				v.series, v.seriesCount, v.seriesLast = true, s.Count, s.LastObservedTime
			}
			return v.row(now)
		}),
		fields: fieldsOf(coreEventFields),
	}
}

func eventsEventTable() table {
	return table{
		columns: eventColumns(),
		row: rowOf(func(e *eventsv1.Event, now time.Time) []any {
			v := eventView{
				name: e.Name, eventType: e.Type, reason: e.Reason, message: e.Note,
				object: e.Regarding, source: e.DeprecatedSource,
				reportingController: e.ReportingController, reportingInstance: e.ReportingInstance,
				first: e.DeprecatedFirstTimestamp, last: e.DeprecatedLastTimestamp, eventTime: e.EventTime,
				count: e.DeprecatedCount,
			}
			if s := e.Series; s != nil {
				v.series, v.seriesCount, v.seriesLast = true, s.Count, s.LastObservedTime
			}
			return v.row(now)
		}),
		fields: fieldsOf(eventsEventFields),
	}
}

// eventView is what the printer reads of an Event of either group.
type eventView struct {
	name, eventType, reason, message string
	object                           corev1.ObjectReference
	source                           corev1.EventSource
	reportingController              string
	reportingInstance                string
	first, last                      metav1.Time
	eventTime                        metav1.MicroTime
	count                            int32
	series                           bool
	seriesCount                      int32
	seriesLast                       metav1.MicroTime
}

// row follows upstream: FIRST SEEN falls back to the event time, LAST
// SEEN to the first; a series gives the last observation and the count;
// a singleton event without a count counts 1.
func (v eventView) row(now time.Time) []any {
	first := since(v.first, now)
	if v.first.IsZero() {
		first = sinceMicro(v.eventTime, now)
	}
	last := since(v.last, now)
	if v.last.IsZero() {
		last = first
	}
	count := v.count
	switch {
	case v.series:
		last, count = sinceMicro(v.seriesLast, now), v.seriesCount
	case count == 0:
		count = 1
	}

	target := strings.ToLower(v.object.Kind)
	if v.object.Name != "" {
		target += "/" + v.object.Name
	}
	return []any{
		last, v.eventType, v.reason, target, v.object.FieldPath, v.sourceCell(),
		strings.TrimSpace(v.message), first, int64(count), v.name,
	}
}

// sourceCell is "component, host", the reporting controller and instance
// standing in for an empty component or host.
func (v eventView) sourceCell() string {
	component, host := v.source.Component, v.source.Host
	if component == "" {
		component = v.reportingController
	}
	if host == "" {
		host = v.reportingInstance
	}
	if host == "" {
		return component
	}
	return component + ", " + host
}
