package io.vlm4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * The benchmark suite in miniature, so that it cannot rot: every CPU benchmark of the results pipeline runs in-process
 * on small shapes for one short iteration, and the pipeline turns JMH's JSON into the markdown, JSON and chart. (The
 * ONNX Runtime comparison needs the exported model of benchmarks/onnx/export_clip.py and is left to the full run.)
 */
class BenchmarkSmokeTest {
    @TempDir
    Path tmp;

    @Test
    void suiteRunsAndResultsPipelineWritesItsFiles() throws Exception {
        Path json = tmp.resolve("jmh.json");
        new Runner(new OptionsBuilder()
                .include("io.vlm4j.bench.(OpBenchmark|SgemmBenchmark|TowerBenchmark|LoraTrainBenchmark).*")
                .param("op", "gemm:33x48x40", "attention:1x2x17x32", "attention_causal:2x2x9x32", "layernorm:33x64",
                        "attention_backward:1x2x17x32", "layernorm_backward:33x64")
                .param("shape", "2048x2048x2048", "33x48x40")
                .param("arch", "ViT-B/32").param("batch", "1")
                .forks(0).warmupIterations(0).measurementIterations(1).measurementTime(TimeValue.milliseconds(100))
                .resultFormat(ResultFormatType.JSON).result(json.toString()).shouldFailOnError(true)
                .build()).run();
        List<ResultsReport.Row> rows = ResultsReport.read(json);
        assertEquals(6 + 2 + 2 + 1, rows.size(), rows.toString());  // 6 ops, 2 sgemm shapes, image and text tower, a training step
        assertTrue(rows.stream().allMatch(r -> r.ms().length > 0 && r.median() > 0), rows.toString());
        List<Path> files = ResultsReport.write(json, tmp.resolve("results"), "smoke", "test");
        assertEquals(3, files.size(), files.toString());
        String md = Files.readString(files.stream().filter(f -> f.toString().endsWith(".md")).findFirst().orElseThrow());
        assertTrue(md.contains("measured sgemm peak") && md.contains("| gemm | 33x48x40 | vlm4j |") && md.contains("| ViT-B/32 | image | 1 |"), md);
        assertTrue(md.contains("x |"), "ours / OpenBLAS ratio of the shared GEMM shape: " + md);
        assertTrue(md.contains("## LoRA training step") && md.contains("| ViT-B/32 | 1 | q_proj,v_proj | 8 | false |"), md);
    }

    /**
     * The ONNX Runtime comparison on a committed tiny export (benchmarks/onnx/export_clip.py --arch tiny: image 32,
     * width 64, 2 layers): both engines load the same weights, setUp refuses to time them if their embeddings disagree,
     * and the report gets its ours / ONNX Runtime column.
     */
    @Test
    void onnxRuntimeComparisonRunsOnATinyExport() throws Exception {
        Path model = Path.of(getClass().getResource("/onnx-tiny/vision.onnx").toURI()).getParent();
        Path json = tmp.resolve("ort.json");
        new Runner(new OptionsBuilder()
                .include("io.vlm4j.bench.OnnxComparisonBenchmark.*")
                .param("model", model.toString()).param("batch", "2").param("threads", "1").param("tower", "image").param("dtype", "fp32")
                .forks(0).warmupIterations(0).measurementIterations(1).measurementTime(TimeValue.milliseconds(100))
                .resultFormat(ResultFormatType.JSON).result(json.toString()).shouldFailOnError(true)
                .build()).run();
        List<ResultsReport.Row> rows = ResultsReport.read(json);
        assertEquals(2, rows.size(), rows.toString());  // vlm4j and ONNX Runtime
        List<Path> files = ResultsReport.write(json, tmp.resolve("results"), "smoke", "test");
        String md = Files.readString(files.stream().filter(f -> f.toString().endsWith(".md")).findFirst().orElseThrow());
        assertTrue(md.contains("| OnnxComparisonBenchmark | onnx-tiny | image | 2 | vlm4j (fp32) |") && md.contains("x |"), md);
    }

    @Test
    void flopCountsFollowTheShapes() {
        assertEquals(2.0 * 3 * 4 * 5, OpBenchmark.flops("gemm:3x4x5"));
        assertEquals(4.0 * 2 * 3 * 7 * 7 * 8, OpBenchmark.flops("attention:2x3x7x8"));
        assertEquals(2.0 * 2 * 3 * 7 * 8 * 8, OpBenchmark.flops("attention_causal:2x3x7x8"));
        assertEquals(10.0 * 2 * 3 * 7 * 7 * 8, OpBenchmark.flops("attention_backward:2x3x7x8"));
        assertEquals(16.0 * 33 * 64, OpBenchmark.flops("layernorm_backward:33x64"));
        // ViT-B/16 image tower: ~17.5 GMACs per image, as the tower's own counter says
        assertEquals(17.5e9, ResultsReport.towerMacs("ViT-B/16", false), 0.1e9);
    }
}
