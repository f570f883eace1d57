"""Build hook of the chclient package (the metadata is in pyproject.toml).

Where libchclient is, recorded at install: with CH_INSTALL_PREFIX set to the
prefix given to `cmake --install` (P), the installed copy of chclient.py gets
the library's directory (P/lib, P/lib64 or P/lib/<multiarch>, wherever
libchclient.so* is) written into its _INSTALL_LIBDIR line, so that `import
chclient` loads P's library with no variable set. Only the directory is
recorded, not the file: the library's SONAME (libchclient.so.N) may change
with a new install into the same prefix. The source tree's chclient.py is
never changed (it finds the library through CH_CLIENT_LIB or the build
tree). Without CH_INSTALL_PREFIX nothing is recorded: the module looks under
the prefix it is installed under, pkg-config and the system's library path.
"""
import glob
import os

from setuptools import setup
from setuptools.command.build_py import build_py

MARKER = "_INSTALL_LIBDIR = None\n"


def libdir_of(prefix):
    """The directory under `prefix` that holds libchclient.so*."""
    prefix = os.path.abspath(os.path.expanduser(prefix))
    dirs = [os.path.join(prefix, "lib"), os.path.join(prefix, "lib64")]
    dirs += sorted(glob.glob(os.path.join(glob.escape(prefix), "lib", "*-linux-*")))
    for d in dirs:
        if glob.glob(os.path.join(glob.escape(d), "libchclient.so*")):
            return d
    raise SystemExit(f"CH_INSTALL_PREFIX={prefix}: no libchclient.so* in {', '.join(dirs)} "
                     "(run cmake --install BUILD --prefix PREFIX first)")


class build_py_libdir(build_py):
    def run(self):
        super().run()
        prefix = os.environ.get("CH_INSTALL_PREFIX")
        # written afresh each time from the source: a build folder left by an
        # earlier install must not keep another prefix
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "chclient.py")) as f:
            text = f.read()
        if text.count(MARKER) != 1:
            raise SystemExit(f"chclient.py: the line {MARKER.strip()!r} is missing")
        if prefix:
            text = text.replace(MARKER, f"_INSTALL_LIBDIR = {libdir_of(prefix)!r}\n")
        with open(os.path.join(self.build_lib, "chclient.py"), "w") as f:
            f.write(text)


setup(cmdclass={"build_py": build_py_libdir})
