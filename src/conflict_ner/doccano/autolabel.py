"""doccano's auto-labelling wired to our model service (`conflict-ner serve`).

doccano 1.8 stores, per project, auto-labelling configs: a request model
(here its "Custom REST Request": URL, method, params, headers and a body in
which the value ``{{ text }}`` is replaced by the example's text), a Jinja2
template that maps the service's JSON answer (``input``) to a list of
``{"start_offset", "end_offset", "label"}``, and a label mapping (service
label -> project label; only labels it names are kept). When an annotator
asks for auto-labelling on an example, doccano runs the config and saves the
spans as that annotator's own annotations, skipping any that overlap spans
the annotator already has.

``configure`` writes that config (replacing the one it wrote before for the
same project, so running it twice leaves one) and, before saving, has doccano
itself call the service and map a sample answer, so a wrong URL or a service
doccano cannot reach fails here and not in the annotator's browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conflict_ner.doccano.client import DoccanoAPI
from conflict_ner.doccano.errors import DoccanoError
from conflict_ner.scheme import LABELS

MODEL_NAME = "Custom REST Request"  # the title doccano's auto-labelling pipeline knows it by
TASK_TYPE = "Span"
TEXT_PLACEHOLDER = "{{ text }}"  # doccano swaps a value equal to this for the example's text
# The service answers {"model": ..., "spans": [{start_offset, end_offset, label, text}]};
# doccano needs a list of exactly {start_offset, end_offset, label}. The loop drops
# the other keys, and tojson quotes a label whatever it holds. An error answer
# ({"error": ...}, no spans) maps to no suggestions.
RESPONSE_TEMPLATE = (
    "[{% for span in input.spans %}"
    '{"start_offset": {{ span.start_offset | int }}, '
    '"end_offset": {{ span.end_offset | int }}, '
    '"label": {{ span.label | tojson }}}'
    "{% if not loop.last %}, {% endif %}"
    "{% endfor %}]"
)
SAMPLE_TEXT = "YPG fighters entered al-Hasakah on Monday, the Syrian army said."


@dataclass
class AutolabelReport:
    """What configure did and what doccano's own trial call returned."""

    project_id: int
    config_id: int
    replaced: bool
    sample_spans: list[dict[str, Any]]


def predict_url(service_url: str) -> str:
    """The service's prediction endpoint from its base URL (or the endpoint itself)."""
    from conflict_ner.serve import PREDICT_PATH

    url = service_url.rstrip("/")
    return url if url.endswith(PREDICT_PATH) else url + PREDICT_PATH


def rest_config(service_url: str, label_map: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The auto-labelling config doccano stores: request, response template, label mapping."""
    mapping = dict(label_map) if label_map else {label: label for label in LABELS}
    return {
        "model_name": MODEL_NAME,
        "model_attrs": {
            "url": predict_url(service_url),
            "method": "POST",
            # doccano walks params and body looking for the placeholder: both must be objects.
            "params": {},
            "headers": {"Content-Type": "application/json"},
            "body": {"text": TEXT_PLACEHOLDER},
        },
        "template": RESPONSE_TEMPLATE,
        "label_mapping": mapping,
        "task_type": TASK_TYPE,
    }


def _ours(config: Mapping[str, Any]) -> bool:
    """A config this module wrote: a Custom REST request for spans with our template."""
    return (
        config.get("model_name") == MODEL_NAME
        and config.get("task_type") == TASK_TYPE
        and config.get("template") == RESPONSE_TEMPLATE
    )


def check_mapping(
    api: DoccanoAPI, project_id: int, config: Mapping[str, Any], text: str = SAMPLE_TEXT
) -> list[dict[str, Any]]:
    """Have doccano call the service on a sample text and map the answer; return the spans.

    Raises DoccanoError when doccano cannot reach the service or the answer does not map.
    """
    response = api.try_auto_labeling_request(
        project_id, config["model_name"], config["model_attrs"], text
    )
    if isinstance(response, dict) and "error" in response:
        raise DoccanoError(
            f"the service at {config['model_attrs']['url']} refused doccano's "
            f"trial request: {response['error']}"
        )
    if not isinstance(response, dict) or not isinstance(response.get("spans"), list):
        raise DoccanoError(
            f"{config['model_attrs']['url']} did not answer like `conflict-ner "
            f"serve` (no 'spans' list): {str(response)[:200]}"
        )
    if not response["spans"]:
        return []  # doccano's template check refuses an empty result; nothing to map
    return api.try_auto_labeling_template(
        project_id, response, config["template"], config["task_type"]
    )


def configure(
    api: DoccanoAPI,
    project: str,
    service_url: str,
    label_map: Mapping[str, str] | None = None,
    check: bool = True,
) -> AutolabelReport:
    """Point the project's auto-labelling at the service; one config of ours per project."""
    project_id = api.find_project(project)
    if project_id is None:
        raise DoccanoError(f"doccano has no project named {project!r}; push to it first")
    config = rest_config(service_url, label_map)
    _check_labels(api, project_id, config["label_mapping"])
    sample = check_mapping(api, project_id, config) if check else []
    existing = [c for c in api.auto_labeling_configs(project_id) if _ours(c)]
    for old in existing[1:]:
        api.delete_auto_labeling_config(project_id, int(old["id"]))
    config_id = api.save_auto_labeling_config(
        project_id, config, int(existing[0]["id"]) if existing else None
    )
    return AutolabelReport(project_id, config_id, bool(existing), sample)


def _check_labels(api: DoccanoAPI, project_id: int, mapping: Mapping[str, str]) -> None:
    """Every mapped-to label must exist in the project (doccano drops unknown ones silently)."""
    missing = sorted(set(mapping.values()) - set(api.label_names(project_id).values()))
    if missing:
        raise DoccanoError(
            f"the project has no label(s) {', '.join(missing)}: map the model's labels onto "
            "the project's with --label-map MODEL=PROJECT"
        )
