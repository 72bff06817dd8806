"""The version of the pipeline contract: the `modbot pipeline` commands and the workflow templates.

Part of every build key (a new template version may build differently, so it never reuses an image
built under an older one) and stamped into every rendered workflow and release tag. Bump it when the
cargo arguments, the release tag format or the rendered workflows change meaning.
"""

from __future__ import annotations

TEMPLATE_VERSION = "1"
