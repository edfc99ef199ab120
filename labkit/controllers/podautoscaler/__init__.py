"""The HorizontalPodAutoscaler (``pkg/controller/podautoscaler``): calculator, normalization, sync."""
