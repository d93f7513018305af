"""Service catalog (事项), applications, pre-review, case lifecycle, deadlines, certificates, ratings."""
