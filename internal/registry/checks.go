package registry

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// kindChecks returns the defaulting and validation of each kind.
func kindChecks() map[schema.GroupKind]Strategy {
	core := func(kind string) schema.GroupKind { return schema.GroupKind{Kind: kind} }
	gk := func(group, kind string) schema.GroupKind { return schema.GroupKind{Group: group, Kind: kind} }
	return map[schema.GroupKind]Strategy{
		core("Pod"):                   {Default: defaulter(defaultPod)},
		core("PodTemplate"):           {Default: defaulter(defaultPodTemplate)},
		core("ReplicationController"): {Default: defaulter(defaultReplicationController)},
		core("Service"):               {Default: defaulter(defaultService)},
		core("Secret"):                {Default: defaulter(defaultSecret)},
		core("Namespace"):             {Default: defaulter(defaultNamespace)},
		core("Node"):                  {Default: defaulter(defaultNode)},
		core("Endpoints"):             {Default: defaulter(defaultEndpoints)},
		core("PersistentVolume"):      {Default: defaulter(defaultPersistentVolume)},
		core("PersistentVolumeClaim"): {Default: defaulter(defaultPersistentVolumeClaim)},
		core("LimitRange"):            {Default: defaulter(defaultLimitRange)},
		core("ResourceQuota"):         {Default: defaulter(defaultResourceQuota)},

		gk("apps", "Deployment"):  {Default: defaulter(defaultDeployment)},
		gk("apps", "ReplicaSet"):  {Default: defaulter(defaultReplicaSet)},
		gk("apps", "StatefulSet"): {Default: defaulter(defaultStatefulSet)},
		gk("apps", "DaemonSet"):   {Default: defaulter(defaultDaemonSet)},

		gk("batch", "Job"):     {Default: defaulter(defaultJob)},
		gk("batch", "CronJob"): {Default: defaulter(defaultCronJob)},

		gk("networking.k8s.io", "NetworkPolicy"): {Default: defaulter(defaultNetworkPolicy)},
		gk("networking.k8s.io", "IngressClass"):  {Default: defaulter(defaultIngressClass)},
		gk("discovery.k8s.io", "EndpointSlice"):  {Default: defaulter(defaultEndpointSlice)},

		gk("rbac.authorization.k8s.io", "RoleBinding"):        {Default: defaulter(defaultRoleBinding)},
		gk("rbac.authorization.k8s.io", "ClusterRoleBinding"): {Default: defaulter(defaultClusterRoleBinding)},
		gk("storage.k8s.io", "StorageClass"):                  {Default: defaulter(defaultStorageClass)},
		gk("scheduling.k8s.io", "PriorityClass"):              {Default: defaulter(defaultPriorityClass)},
		gk("autoscaling", "HorizontalPodAutoscaler"):          {Default: defaultHorizontalPodAutoscaler},
	}
}

// defaulter adapts a typed defaulting function to Strategy.Default. An
// object of another type is left alone: the API server only passes the
// kind's own type.
func defaulter[T runtime.Object](f func(T)) func(runtime.Object) {
	return func(obj runtime.Object) {
		if t, ok := obj.(T); ok {
			f(t)
		}
	}
}
