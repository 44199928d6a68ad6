package io.vlm4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.eval.analysis.BarChart;
import io.vlm4j.io.AtomicFiles;
import io.vlm4j.model.clip.ClipConfig;
import io.vlm4j.model.clip.ClipTextTower;
import io.vlm4j.model.clip.ClipVisionTower;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The results pipeline: JMH's JSON results of one run (OpBenchmark, SgemmBenchmark, TowerBenchmark,
 * OnnxComparisonBenchmark, LoraTrainBenchmark) become {@code <date>-<machine>.md}, {@code .json} and {@code .png} in a results folder:
 * medians and spread (min-max) over every measured iteration, GFLOP/s, the fraction of the sgemm peak measured in the
 * same run (OpenBLAS on a 2048³ square), ours / OpenBLAS per GEMM shape, and ours / ONNX Runtime per tower and batch.
 * The machine (CPU model and flags, cores), versions and commit are recorded.
 * <pre>java -cp benchmarks/target/benchmarks.jar io.vlm4j.bench.ResultsReport JMH.json OUT_DIR MACHINE_NAME [COMMIT]</pre>
 */
public final class ResultsReport {
    private ResultsReport() {}

    /** One benchmark with one parameter set: its label and its measured times (ms per call). */
    record Row(String benchmark, String method, Map<String, String> params, double[] ms, Map<String, Double> aux) {
        double median() {
            double[] s = ms.clone();
            Arrays.sort(s);
            return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        }

        double min() { return Arrays.stream(ms).min().orElse(Double.NaN); }

        double max() { return Arrays.stream(ms).max().orElse(Double.NaN); }
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 3) {
            System.err.println("usage: ResultsReport JMH.json OUT_DIR MACHINE_NAME [COMMIT]");
            System.exit(2);
        }
        List<Path> files = write(Path.of(args[0]), Path.of(args[1]), args[2], args.length > 3 ? args[3] : "unknown");
        files.forEach(f -> System.out.println("wrote " + f));
    }

    static List<Row> read(Path jmhJson) throws IOException {
        JsonNode root = new ObjectMapper().readTree(jmhJson.toFile());
        List<Row> rows = new ArrayList<>();
        for (JsonNode b : root) {
            String full = b.get("benchmark").asText();
            int dot = full.lastIndexOf('.');
            String cls = full.substring(full.lastIndexOf('.', dot - 1) + 1, dot), method = full.substring(dot + 1);
            Map<String, String> params = new LinkedHashMap<>();
            if (b.has("params")) b.get("params").fields().forEachRemaining(e -> params.put(e.getKey(), e.getValue().asText()));
            JsonNode pm = b.get("primaryMetric");
            double toMs = switch (pm.get("scoreUnit").asText()) {
                case "ms/op" -> 1;
                case "us/op" -> 1e-3;
                case "s/op" -> 1e3;
                case "ns/op" -> 1e-6;
                default -> Double.NaN;  // throughput modes are not used by these benchmarks
            };
            List<Double> raw = new ArrayList<>();
            for (JsonNode fork : pm.get("rawData")) for (JsonNode v : fork) raw.add(v.asDouble() * toMs);
            Map<String, Double> aux = new LinkedHashMap<>();  // @AuxCounters, e.g. the training step's peak memory
            // an EVENTS counter's score is the sum over iterations: report the largest per-iteration value instead
            if (b.has("secondaryMetrics")) b.get("secondaryMetrics").fields().forEachRemaining(e -> {
                double max = Double.NEGATIVE_INFINITY;
                for (JsonNode fork : e.getValue().path("rawData")) for (JsonNode v : fork) max = Math.max(max, v.asDouble());
                aux.put(e.getKey(), max == Double.NEGATIVE_INFINITY ? e.getValue().path("score").asDouble() : max);
            });
            rows.add(new Row(cls, method, params, raw.stream().mapToDouble(Double::doubleValue).toArray(), aux));
        }
        return rows;
    }

    static List<Path> write(Path jmhJson, Path outDir, String machine, String commit) throws IOException {
        List<Row> rows = read(jmhJson);
        double peak = rows.stream().filter(r -> r.benchmark().equals("SgemmBenchmark") && r.params().get("shape").equals("2048x2048x2048"))
                .mapToDouble(r -> OpBenchmark.flops("sgemm:" + r.params().get("shape")) / (r.median() * 1e-3) / 1e9).findFirst().orElse(Double.NaN);
        Map<String, Double> blas = new LinkedHashMap<>();  // shape -> OpenBLAS median ms
        for (Row r : rows) if (r.benchmark().equals("SgemmBenchmark")) blas.put(r.params().get("shape"), r.median());

        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode doc = json.createObjectNode();
        doc.put("date", LocalDate.now().toString()).put("machine", machine).put("commit", commit);
        ObjectNode env = doc.putObject("environment");
        env.put("cpu", cpuModel()).put("cores", Runtime.getRuntime().availableProcessors()).put("flags", simdFlags())
                .put("java", System.getProperty("java.version")).put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        doc.put("sgemm_peak_gflops", peak);
        StringBuilder md = new StringBuilder();
        md.append("# Benchmarks, ").append(LocalDate.now()).append(", ").append(machine).append("\n\n");
        md.append("- commit ").append(commit).append("; CPU ").append(cpuModel()).append(", ").append(Runtime.getRuntime().availableProcessors())
                .append(" cores, SIMD ").append(simdFlags()).append("; Java ").append(System.getProperty("java.version")).append('\n');
        md.append(String.format(Locale.ROOT, "- measured sgemm peak (OpenBLAS 0.3.31, 2048³, same run): **%.1f GFLOP/s**%n", peak));
        md.append("- every figure is the median of all measured JMH iterations, with the range (min-max) beside it\n\n");

        md.append("## Ops (ViT-B/16 shapes, batch 8)\n\n| op | shape | engine | ms median (min-max) | GFLOP/s | of sgemm peak | ours / OpenBLAS |\n|---|---|---|---|---:|---:|---:|\n");
        ArrayNode ops = doc.putArray("ops");
        List<String> chartCats = new ArrayList<>();
        List<Double> chartOurs = new ArrayList<>(), chartRef = new ArrayList<>();
        for (Row r : rows) {
            if (!r.benchmark().equals("OpBenchmark") && !r.benchmark().equals("SgemmBenchmark")) continue;
            String op = r.benchmark().equals("SgemmBenchmark") ? "sgemm:" + r.params().get("shape") : r.params().get("op");
            String[] kv = op.split(":");
            double gflops = OpBenchmark.flops(op) / (r.median() * 1e-3) / 1e9;
            boolean ours = r.benchmark().equals("OpBenchmark");
            Double ref = ours && kv[0].equals("gemm") ? blas.get(kv[1]) : null;
            double ratio = ref == null ? Double.NaN : ref / r.median();  // throughput ratio = their time / ours
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %.3f (%.3f-%.3f) | %.1f | %.0f%% | %s |%n", kv[0], kv[1],
                    ours ? "vlm4j" : "OpenBLAS", r.median(), r.min(), r.max(), gflops, 100 * gflops / peak,
                    Double.isNaN(ratio) ? "" : String.format(Locale.ROOT, "%.2fx", ratio)));
            ObjectNode o = ops.addObject();
            o.put("op", kv[0]).put("shape", kv[1]).put("engine", ours ? "vlm4j" : "openblas").put("ms_median", r.median())
                    .put("ms_min", r.min()).put("ms_max", r.max()).put("gflops", gflops).put("fraction_of_sgemm_peak", gflops / peak);
            if (!Double.isNaN(ratio)) {
                o.put("ratio_vs_openblas", ratio);
                chartCats.add(kv[1]);
                chartOurs.add(gflops);
                chartRef.add(OpBenchmark.flops(op) / (ref * 1e-3) / 1e9);
            }
        }

        md.append("\n## Towers\n\n| benchmark | arch | tower | batch | engine | ms/batch median (min-max) | items/s | GFLOP/s | of sgemm peak | ours / ONNX Runtime |\n|---|---|---|---:|---|---|---:|---:|---:|---:|\n");
        ArrayNode towers = doc.putArray("towers");
        Map<String, Double> ortMs = new LinkedHashMap<>();
        for (Row r : rows) if (r.benchmark().equals("OnnxComparisonBenchmark") && r.method().equals("onnxRuntime")) ortMs.put(r.params().toString(), r.median());
        for (Row r : rows) {
            if (!r.benchmark().equals("TowerBenchmark") && !r.benchmark().equals("OnnxComparisonBenchmark")) continue;
            int batch = Integer.parseInt(r.params().getOrDefault("batch", "1"));
            String arch = r.params().getOrDefault("arch", Path.of(r.params().getOrDefault("model", "?")).getFileName().toString());
            boolean text = r.method().equals("textTower") || "text".equals(r.params().get("tower"));
            double macs = towerMacs(arch, text);
            double gflops = Double.isNaN(macs) ? Double.NaN : 2 * macs * batch / (r.median() * 1e-3) / 1e9;
            String engine = r.method().equals("onnxRuntime") ? "ONNX Runtime (fp32)"
                    : "vlm4j (" + (r.params().getOrDefault("dtype", "fp32").equals("bf16") ? "bf16 weights" : "fp32") + ")";
            Double ref = engine.startsWith("vlm4j") && r.benchmark().equals("OnnxComparisonBenchmark") ? ortMs.get(r.params().toString()) : null;
            double ratio = ref == null ? Double.NaN : ref / r.median();
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %d | %s | %.1f (%.1f-%.1f) | %.2f | %s | %s | %s |%n", r.benchmark(), arch,
                    text ? "text" : "image", batch, engine, r.median(), r.min(), r.max(), batch / (r.median() * 1e-3),
                    Double.isNaN(gflops) ? "" : String.format(Locale.ROOT, "%.1f", gflops),
                    Double.isNaN(gflops) ? "" : String.format(Locale.ROOT, "%.0f%%", 100 * gflops / peak),
                    Double.isNaN(ratio) ? "" : String.format(Locale.ROOT, "%.2fx", ratio)));
            ObjectNode o = towers.addObject();
            o.put("benchmark", r.benchmark()).put("arch", arch).put("tower", text ? "text" : "image").put("batch", batch).put("engine", engine)
                    .put("ms_median", r.median()).put("ms_min", r.min()).put("ms_max", r.max()).put("items_per_s", batch / (r.median() * 1e-3));
            if (!Double.isNaN(gflops)) o.put("gflops", gflops).put("fraction_of_sgemm_peak", gflops / peak);
            if (!Double.isNaN(ratio)) o.put("ratio_vs_onnxruntime", ratio);
        }
        if (towers.isEmpty()) md.append("| (no tower benchmarks in this run) | | | | | | | | | |\n");

        ArrayNode training = doc.putArray("training");
        for (Row r : rows) {
            if (!r.benchmark().equals("LoraTrainBenchmark")) continue;
            if (training.isEmpty()) {
                md.append("\n## LoRA training step (image tower, CPU, FP32)\n\n| arch | batch | targets | rank | activation checkpointing | ms/step median (min-max) | images/s | peak step memory (MiB) |\n|---|---:|---|---:|---|---|---:|---:|\n");
            }
            int batch = Integer.parseInt(r.params().getOrDefault("batch", "1"));
            double mib = r.aux().getOrDefault("peakStepMiB", Double.NaN);
            md.append(String.format(Locale.ROOT, "| %s | %d | %s | %s | %s | %.1f (%.1f-%.1f) | %.2f | %s |%n", r.params().get("arch"), batch,
                    r.params().get("targets"), r.params().get("rank"), r.params().get("checkpointing"), r.median(), r.min(), r.max(),
                    batch / (r.median() * 1e-3), Double.isNaN(mib) ? "" : String.format(Locale.ROOT, "%.0f", mib)));
            ObjectNode o = training.addObject();
            r.params().forEach(o::put);
            o.put("ms_median", r.median()).put("ms_min", r.min()).put("ms_max", r.max()).put("images_per_s", batch / (r.median() * 1e-3));
            if (!Double.isNaN(mib)) o.put("peak_step_mib", mib);
        }

        Files.createDirectories(outDir);
        String stem = LocalDate.now() + "-" + machine;
        Path mdFile = outDir.resolve(stem + ".md"), jsonFile = outDir.resolve(stem + ".json"), png = outDir.resolve(stem + ".png");
        List<Path> written = new ArrayList<>();
        if (!chartCats.isEmpty()) {
            Map<String, double[]> series = new LinkedHashMap<>();
            series.put("vlm4j", chartOurs.stream().mapToDouble(Double::doubleValue).toArray());
            series.put("OpenBLAS sgemm", chartRef.stream().mapToDouble(Double::doubleValue).toArray());
            BarChart.write(png, "GEMM GFLOP/s, ViT-B/16 linear shapes (M x N x K), " + machine, "GFLOP/s", chartCats, series, 1200, 700);
            md.append("\n![GEMM GFLOP/s](").append(png.getFileName()).append(")\n");
            written.add(png);
        }
        byte[] m = md.toString().getBytes(StandardCharsets.UTF_8), j = json.writeValueAsBytes(doc);
        AtomicFiles.write(mdFile, out -> out.write(m));
        AtomicFiles.write(jsonFile, out -> out.write(j));
        written.add(mdFile);
        written.add(jsonFile);
        return written;
    }

    /**
     * Multiply-accumulates per item of a preset tower, the towers' own count; text at 77 tokens. NaN for an unknown
     * arch.
     */
    static double towerMacs(String arch, boolean text) {
        ClipConfig c;
        try {
            c = ClipConfig.preset(arch.replaceFirst("-(\\d+)$", "/$1"));  // exported folders are named ViT-B-16
        } catch (IllegalArgumentException e) {
            return Double.NaN;
        }
        return text ? ClipTextTower.macsPerText(c.text().orElseThrow(), c.projectionDim(), 77)
                : ClipVisionTower.macsPerImage(c.vision().orElseThrow(), c.projectionDim());
    }

    private static String cpuModel() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (l.startsWith("model name")) return l.substring(l.indexOf(':') + 1).strip();
            }
        } catch (IOException e) {
            // not Linux: fall through
        }
        return System.getProperty("os.arch");
    }

    private static String simdFlags() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (!l.startsWith("flags")) continue;
                List<String> have = Arrays.asList(l.substring(l.indexOf(':') + 1).strip().split("\\s+"));
                List<String> out = new ArrayList<>();
                for (String f : List.of("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_bf16", "amx_bf16")) if (have.contains(f)) out.add(f);
                return String.join(" ", out);
            }
        } catch (IOException e) {
            // not Linux
        }
        return "unknown";
    }
}
