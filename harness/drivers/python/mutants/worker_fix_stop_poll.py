"""REPAIR, not a broken variant: stop() with an idle stream returns at once instead of after the next
tick of a fixed 1 s work-queue poll: the fix for finding F-11 (docs/FINDINGS.md).

Why it exists: 1.12.0 itself fails WRK-SHUT-003 (stop() takes up to 1 s), so a broken variant applied
to 1.12.0 alone cannot show that the check can fail for its own reason. With this repair 1.12.0 passes
test_stop_is_prompt_and_final[in-stream]; a variant stacked on top of it (e.g.
worker_stop_fixed_grace.py) must fail it again. How: ``_AsyncWorkerManager._consume_queue`` is
1.12.0's own loop with the queue poll shortened from 1 s to POLL_S, so the consumers see the shutdown
flag within POLL_S.
"""

import asyncio
from typing import Any

import durabletask.worker as _w

POLL_S = 0.01


async def _consume_queue(self, queue, semaphore):
    running_tasks: set[Any] = set()
    while True:
        if self._shutdown and queue.empty() and not running_tasks:
            break
        await semaphore.acquire()
        permit_owned = True
        try:
            try:
                work = await asyncio.wait_for(queue.get(), timeout=POLL_S)
            except asyncio.TimeoutError:
                continue
            func, cancellation_func, args, kwargs = work
            task = asyncio.create_task(
                self._process_work_item(semaphore, queue, func, cancellation_func, args, kwargs))
            permit_owned = False
            running_tasks.add(task)
            task.add_done_callback(running_tasks.discard)
        finally:
            if permit_owned:
                semaphore.release()


_w._AsyncWorkerManager._consume_queue = _consume_queue
