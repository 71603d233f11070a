"""Food sampling as the authorities count it (国家食品安全示范城市评价细则, 2023版; the
sampling types of 《食品安全抽样检验管理办法》): who had a sample taken and why, and at which
stage of the chain. Shared by the ``lab_test`` and ``plan`` kinds and the KPI report.
"""

from __future__ import annotations

__all__ = ["OFFICIAL", "PLANNED", "SAMPLING_LABELS", "SAMPLING_TYPES", "STAGES", "STAGE_LABELS"]

#: ``lab_test.data.sampling``: 监督抽检, 评价性抽检, 风险监测, 委托检验, 企业自检.
SAMPLING_TYPES = ("supervision", "evaluation", "monitoring", "commissioned", "self")
#: Official sampling by the authorities (食品安全抽检): the only lab results the KPI counts
#: as sampled batches (docs/contract.md "lab_test").
OFFICIAL = ("supervision", "evaluation", "monitoring")
#: The sampling types a ``plan`` sets targets for: the authorities' own.
PLANNED = OFFICIAL
#: ``lab_test.data.stage``: 生产, 流通, 餐饮.
STAGES = ("production", "circulation", "catering")

SAMPLING_LABELS = {"supervision": ("监督抽检", "supervision sampling"),
                   "evaluation": ("评价性抽检", "evaluation sampling"),
                   "monitoring": ("风险监测", "risk monitoring"),
                   "commissioned": ("委托检验", "commissioned test"),
                   "self": ("企业自检", "self-test")}
STAGE_LABELS = {"production": ("生产", "production"), "circulation": ("流通", "circulation"),
                "catering": ("餐饮", "catering")}
