"""jupyter_client's local provisioner, launching a kernel through the zygote when it can
(crmlib.report.zygote; here, apart from it, because jupyter_client takes 0.3 s to import and the
zygote starts before that)."""

from __future__ import annotations

import os
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

from .zygote import ForkedKernel, Zygote, forkable


class ZygoteProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, launching through the zygote when it can."""

    zygote: Zygote | None = None
    quiet: bool = False

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        if self.zygote is None or not forkable(cmd):
            return await super().launch_kernel(cmd, **kwargs)
        env = dict(kwargs.get("env") or os.environ)
        cwd = str(kwargs.get("cwd") or os.getcwd())
        try:
            pid = self.zygote.fork(cmd, env, cwd, self.quiet)
        except OSError:
            return await super().launch_kernel(cmd, **kwargs)
        self.process = ForkedKernel(pid)
        self.pid, self.pgid, self.cwd = pid, pid, cwd  # the kernel leads a session (and group) of its own
        return self.connection_info


__all__ = ["ZygoteProvisioner"]
