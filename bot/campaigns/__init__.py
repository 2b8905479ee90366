"""Awareness campaigns (docs/CAMPAIGNS.md): subscriptions kept by pseudonymous sender id, the tip
series, quizzes and polls in ``data/campaigns/``, broadcasts, and their delivery by Dramatiq workers.

* ``keywords`` — STOP / START / quiz words, checked by the channels before the NLU.
* ``content`` — ``CampaignLibrary``: what ``data/campaigns/`` holds, and its checks.
* ``models``, ``store`` — ``CampaignStore``: subscribers, broadcasts, deliveries, poll counts.
* ``quiet``, ``pacing``, ``senders``, ``addresses`` — what a send obeys and how it goes out.
* ``delivery`` — one recipient of one broadcast, exactly once; ``worker`` — the Dramatiq actors;
  ``memory`` — what keeps a worker's memory flat over a broadcast.
* ``cli`` — ``python -m bot campaigns list|send|status``.
"""
