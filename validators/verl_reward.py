"""verl's entry file for the backchain reward (verl loads it by path, not as a package).

    custom_reward_function:
      path: <backchain checkout>/validators/verl_reward.py
      name: compute_score

backchain must be installed in verl's environment (``pip install -e <checkout>``);
set BACKCHAIN_REWARD_SPEC to the export's reward_spec.json, or put its path in
each row's extra_info["reward_spec"].
"""

from validators import compute_score

__all__ = ["compute_score"]
