"""The log's life: hourly rollups, snapshots, daily bundles, tiering and restore.

Layout of the durable log, as this package writes and reads it::

    incoming/posts/<board>/<thread>/<nnnn>.json    the commits (board/log/layout.py)
    incoming/posts/<board>/<thread>/<nnnn>.rolled  a kept claim whose event is in hourly/ (rollup.py)
    incoming/posts/<board>/<thread>/<nnnn>.floor   no gap up to it; no claim above it deleted (claims.py)
    incoming/events/<event-id>.json
    hourly/YYYY/MM/DD/HH.jsonl.gz                  an hour's events, sorted by id (rollup.py)
    hourly/YYYY/MM/DD/HH.manifest.json             count, sha256, first/last id, time range
    hourly/YYYY/MM/DD/HH.<n>.jsonl.gz (+ manifest) part n: events committed after part 0 was written
    snapshots/<seq>-<sha>.jsonl.gz                 every event ever, compacted (snapshot.py)
    snapshots/<seq>.manifest.json                  claims <seq>; lists the hourly segments inside
    snapshots/LATEST                               {"seq": ..., "manifest": ...}: the newest verified one
    daily/YYYY/MM/DD.jsonl.gz (+ manifest)         a day's hourly segments bundled once a snapshot
    daily/YYYY/MM/DD.<n>.jsonl.gz (+ manifest)     holds them (bundle.py); these tier to Glacier
    <segment>-<sha16>.jsonl.gz                     a segment's data rewritten by a purge (purge.py), its
                                                   manifest moved to name it
    purges/...                                     the purge list, applied by every reader (purgelist.py)

Every object is written once with a conditional create and described by a
manifest written after it; an object without its manifest is an unfinished
write and is ignored by readers. The one exception is a purge, which writes
a segment's cleaned data under a new key and moves its manifest to it. Segments and snapshots are gzip JSONL, one
canonical event per line (board.events.encode), sorted by event id.

The invariants the modules keep, in the order an event travels:

* an incoming object is deleted only once its event is in a verified
  segment *and* applied to the store (rollup.py), and a live thread's highest
  claim not at all: it is kept, marked ``.rolled``, because numbers.py starts
  after the highest claim the log shows; every reader of the tail skips
  marked claims (tail.pending), so a kept claim is read from hourly/ only;
* a snapshot contains its predecessor plus every hourly segment its manifest
  lists; a restore replays the snapshot, the hourly segments it does not
  list, and the incoming tail (plan.py);
* an hourly segment is deleted only after a daily bundle holding it is
  verified and a snapshot that LATEST names contains it (bundle.py), so a
  restore to the present never reads daily/ and never meets Glacier.
"""
