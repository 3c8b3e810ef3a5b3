"""Mutant: at stop() the worker drops the work items it has received but not yet started (the one
running finishes; queued ones are discarded, as a worker that does not drain, N's design, would).

Expected to FAIL WRK-DRAIN-001 (SHUT-1, P: "in-flight and queued work item completions keep draining
across ... worker shutdown"): the queued item is never run, so its completion never reaches the
server. How: ``_AsyncWorkerManager.shutdown`` (called on the worker's event loop when the run loop
ends) also empties the work queues.
"""

import durabletask.worker as _w

_real_shutdown = _w._AsyncWorkerManager.shutdown


def _shutdown(self):
    _real_shutdown(self)
    for queue in (self.activity_queue, self.orchestration_queue, self.entity_batch_queue):
        while queue is not None and not queue.empty():
            queue.get_nowait()
            queue.task_done()


_w._AsyncWorkerManager.shutdown = _shutdown
