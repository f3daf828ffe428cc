package registry

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// kindChecks returns the defaulting and validation of each kind.
func kindChecks() map[schema.GroupKind]Strategy {
	core := func(kind string) schema.GroupKind { return schema.GroupKind{Kind: kind} }
	gk := func(group, kind string) schema.GroupKind { return schema.GroupKind{Group: group, Kind: kind} }
	return map[schema.GroupKind]Strategy{
		core("Pod"):                   {Default: defaulter(defaultPod), Validate: validator(validatePod), ValidateUpdate: updateValidator(validatePodUpdate)},
		core("PodTemplate"):           {Default: defaulter(defaultPodTemplate), Validate: validator(validatePodTemplate)},
		core("ReplicationController"): {Default: defaulter(defaultReplicationController), Validate: validator(validateReplicationController)},
		core("Service"):               {Default: defaulter(defaultService), Validate: validator(validateService), ValidateUpdate: updateValidator(validateServiceUpdate)},
		core("Secret"):                {Default: defaulter(defaultSecret), Validate: validator(validateSecret), ValidateUpdate: updateValidator(validateSecretUpdate)},
		core("ConfigMap"):             {Validate: validator(validateConfigMap), ValidateUpdate: updateValidator(validateConfigMapUpdate)},
		core("Namespace"):             {Default: defaulter(defaultNamespace), Validate: validator(validateNamespace)},
		core("Node"):                  {Default: defaulter(defaultNode), Validate: validator(validateNode), ValidateUpdate: updateValidator(validateNodeUpdate)},
		core("Endpoints"):             {Default: defaulter(defaultEndpoints), Validate: validator(validateEndpoints)},
		core("PersistentVolume"):      {Default: defaulter(defaultPersistentVolume), Validate: validator(validatePersistentVolume), ValidateUpdate: updateValidator(validatePersistentVolumeUpdate)},
		core("PersistentVolumeClaim"): {Default: defaulter(defaultPersistentVolumeClaim), Validate: validator(validatePersistentVolumeClaim), ValidateUpdate: updateValidator(validatePersistentVolumeClaimUpdate)},
		core("LimitRange"):            {Default: defaulter(defaultLimitRange), Validate: validator(validateLimitRange)},
		core("ResourceQuota"):         {Default: defaulter(defaultResourceQuota), Validate: validator(validateResourceQuota), ValidateUpdate: updateValidator(validateResourceQuotaUpdate)},

		gk("apps", "Deployment"):         {Default: defaulter(defaultDeployment), Validate: validator(validateDeployment), ValidateUpdate: updateValidator(validateDeploymentUpdate)},
		gk("apps", "ReplicaSet"):         {Default: defaulter(defaultReplicaSet), Validate: validator(validateReplicaSet), ValidateUpdate: updateValidator(validateReplicaSetUpdate)},
		gk("apps", "StatefulSet"):        {Default: defaulter(defaultStatefulSet), Validate: validator(validateStatefulSet), ValidateUpdate: updateValidator(validateStatefulSetUpdate)},
		gk("apps", "DaemonSet"):          {Default: defaulter(defaultDaemonSet), Validate: validator(validateDaemonSet), ValidateUpdate: updateValidator(validateDaemonSetUpdate)},
		gk("apps", "ControllerRevision"): {Validate: validator(validateControllerRevision), ValidateUpdate: updateValidator(validateControllerRevisionUpdate)},

		gk("admissionregistration.k8s.io", "MutatingWebhookConfiguration"):     {Default: defaulter(defaultMutatingWebhookConfiguration), Validate: validator(validateMutatingWebhookConfiguration)},
		gk("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"):   {Default: defaulter(defaultValidatingWebhookConfiguration), Validate: validator(validateValidatingWebhookConfiguration)},
		gk("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"):        {Default: defaulter(defaultValidatingAdmissionPolicy), Validate: validator(validateValidatingAdmissionPolicy)},
		gk("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): {Default: defaulter(defaultValidatingAdmissionPolicyBinding), Validate: validator(validateValidatingAdmissionPolicyBinding)},

		gk("batch", "Job"):     {Default: defaulter(defaultJob), Validate: validator(validateJob), ValidateUpdate: updateValidator(validateJobUpdate)},
		gk("batch", "CronJob"): {Default: defaulter(defaultCronJob), Validate: validator(validateCronJob)},

		gk("networking.k8s.io", "NetworkPolicy"): {Default: defaulter(defaultNetworkPolicy), Validate: validator(validateNetworkPolicy)},
		gk("networking.k8s.io", "Ingress"):       {Validate: validator(validateIngress)},
		gk("networking.k8s.io", "IngressClass"):  {Default: defaulter(defaultIngressClass), Validate: validator(validateIngressClass), ValidateUpdate: updateValidator(validateIngressClassUpdate)},
		gk("discovery.k8s.io", "EndpointSlice"):  {Default: defaulter(defaultEndpointSlice), Validate: validator(validateEndpointSlice), ValidateUpdate: updateValidator(validateEndpointSliceUpdate)},

		gk("rbac.authorization.k8s.io", "Role"):                {Validate: validator(validateRole)},
		gk("rbac.authorization.k8s.io", "ClusterRole"):         {Validate: validator(validateClusterRole)},
		gk("rbac.authorization.k8s.io", "RoleBinding"):         {Default: defaulter(defaultRoleBinding), Validate: validator(validateRoleBinding), ValidateUpdate: updateValidator(validateRoleBindingUpdate)},
		gk("rbac.authorization.k8s.io", "ClusterRoleBinding"):  {Default: defaulter(defaultClusterRoleBinding), Validate: validator(validateClusterRoleBinding), ValidateUpdate: updateValidator(validateClusterRoleBindingUpdate)},
		gk("storage.k8s.io", "StorageClass"):                   {Default: defaulter(defaultStorageClass), Validate: validator(validateStorageClass), ValidateUpdate: updateValidator(validateStorageClassUpdate)},
		gk("scheduling.k8s.io", "PriorityClass"):               {Default: defaulter(defaultPriorityClass), Validate: validator(validatePriorityClass), ValidateUpdate: updateValidator(validatePriorityClassUpdate)},
		gk("coordination.k8s.io", "Lease"):                     {Validate: validator(validateLease)},
		gk("policy", "PodDisruptionBudget"):                    {Validate: validator(validatePodDisruptionBudget)},
		gk("node.k8s.io", "RuntimeClass"):                      {Validate: validator(validateRuntimeClass), ValidateUpdate: updateValidator(validateRuntimeClassUpdate)},
		gk("certificates.k8s.io", "CertificateSigningRequest"): {Default: defaulter(defaultCertificateSigningRequest), Validate: validator(validateCertificateSigningRequest), ValidateUpdate: updateValidator(validateCertificateSigningRequestUpdate)},
		gk("autoscaling", "HorizontalPodAutoscaler"):           {Default: defaultHorizontalPodAutoscaler, Validate: validateHorizontalPodAutoscaler},
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

// validator adapts a typed validation function to Strategy.Validate; an
// object of another type is reported as an internal error.
func validator[T runtime.Object](f func(T) field.ErrorList) func(runtime.Object) field.ErrorList {
	return func(obj runtime.Object) field.ErrorList {
		t, ok := obj.(T)
		if !ok {
			return field.ErrorList{wrongType[T](obj)}
		}
		return f(t)
	}
}

// updateValidator adapts a typed update validation function to
// Strategy.ValidateUpdate.
func updateValidator[T runtime.Object](f func(obj, old T) field.ErrorList) func(obj, old runtime.Object) field.ErrorList {
	return func(obj, old runtime.Object) field.ErrorList {
		t, ok := obj.(T)
		if !ok {
			return field.ErrorList{wrongType[T](obj)}
		}
		o, ok := old.(T)
		if !ok {
			return field.ErrorList{wrongType[T](old)}
		}
		return f(t, o)
	}
}

func wrongType[T runtime.Object](obj runtime.Object) *field.Error {
	var want T
	return field.InternalError(nil, fmt.Errorf("validating %T: got %T", want, obj))
}
