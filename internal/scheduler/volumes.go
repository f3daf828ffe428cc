package scheduler

import (
	"fmt"

	"k8s.io/client-go/informers"
	toolscache "k8s.io/client-go/tools/cache"

	"berth.dev/berth/internal/scheduler/plugins"
)

// watchVolumes adds the VolumeBinding filter, on the claim, volume and
// StorageClass informers, to the framework; a change to any of them may
// make a parked pod schedulable, so it retries them.
func (s *Scheduler) watchVolumes(f informers.SharedInformerFactory) error {
	claims := f.Core().V1().PersistentVolumeClaims()
	volumes := f.Core().V1().PersistentVolumes()
	classes := f.Storage().V1().StorageClasses()
	s.volumes = &plugins.VolumeBinding{Claims: claims.Lister(), Volumes: volumes.Lister(), Classes: classes.Lister()}
	s.framework.Filters = append(s.framework.Filters, s.volumes)
	retry := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.queue.MoveAllToActive() },
		UpdateFunc: func(any, any) { s.queue.MoveAllToActive() },
	}
	for _, inf := range []toolscache.SharedIndexInformer{claims.Informer(), volumes.Informer(), classes.Informer()} {
		if _, err := inf.AddEventHandler(retry); err != nil {
			return fmt.Errorf("scheduler: adding volume handler: %w", err)
		}
		s.volumesSynced = append(s.volumesSynced, inf.HasSynced)
	}
	return nil
}
