"""An inert stand-in for `torchvision`, for the fixture scripts whose libraries import it without using it.

timm, open_clip and (through `transformers.image_utils`) transformers + PEFT import torchvision at module import time, but
the models these scripts run never call it. Where torchvision is missing, or installed but broken (e.g. a wheel built
for another torch, whose `import torchvision` fails with "operator torchvision::nms does not exist"), `install()` makes
every `import torchvision...` return an inert module whose attributes are inert classes (any attribute of those is
another such class), so `from torchvision.x import Y` and `class Z(Y)` work. Whether the real one imports is tried in a
child process, so a failed import leaves nothing half-registered in this one.
"""
import importlib.abc
import importlib.machinery
import subprocess
import sys
import types


def real_torchvision_works():
    return subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True).returncode == 0


def install():
    """Installs the stand-in unless the real torchvision imports; returns True when the stand-in is in use."""
    if real_torchvision_works():
        return False

    class Inert(type):
        def __getattr__(cls, name):
            if name.startswith('__'):
                raise AttributeError(name)
            return Inert(name, (), {})

    class InertModule(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith('__'):
                raise AttributeError(name)
            return Inert(name, (), {})

    class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, fullname, path, target=None):
            if fullname == 'torchvision' or fullname.startswith('torchvision.'):
                return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
            return None

        def create_module(self, spec):
            m = InertModule(spec.name)
            m.__path__ = []
            m.__version__ = '0.0.0+stand-in'
            return m

        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, Finder())
    return True
