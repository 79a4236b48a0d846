"""Does self-supervised pretraining help when labels are few? (issue 14; README.md here)."""
