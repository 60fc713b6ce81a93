"""The one logger whose INFO lines a user sees while a pipeline runs (epochs, per-step summaries), indented under
the component that logs them; the runners show WARNING and above from every avrec logger too."""
import logging

PROGRESS = "avrec.progress"
progress = logging.getLogger(PROGRESS)
