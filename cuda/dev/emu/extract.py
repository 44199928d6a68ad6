"""Builds the emulator's kernel header from the real kernel text of cuda/src/flash_attention.cu: the tile constants,
the kernel body and the dispatch rule are copied verbatim; only the PTX helpers come from helpers.h (emulations
written from the PTX ISA definitions) and shared memory from the emulator's arena.
    python3 extract.py SRC.cu OUT.h
"""
import sys

src, out_path = sys.argv[1], sys.argv[2]
s = open(src).read()
a = s.index('constexpr int warps = 4;'); b = s.index('__device__ __forceinline__ uint32_t smem_addr')
c = s.index('// Two floats rounded to T'); d = s.index('template <typename T, int D>\nvoid launch(')
e = s.index('const char* flash_unsupported('); f = s.index('void flash_attention(')
body = s[c:d].replace('extern __shared__ __align__(16) unsigned char smem[];', 'unsigned char* smem = emu::smem_base;')
assert 'emu::smem_base' in body
out = ('#include "prelude.h"\nnamespace vlmc::attention {\nnamespace {\n' + s[a:b] + '#include "helpers.h"\n' + body
       + 'template <typename T, int D> int smem_of() { return Tile<D>::smem_bytes; }\n}\n' + s[e:f] + '}\n')
open(out_path, 'w').write(out)
