package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The interpreter's packages depend on each other one way only (cpu at the bottom, the root package wiring them
 * together), and code outside the interpreter reaches it only through its entry points. Read from the sources:
 * every reference to an interpreter class by its qualified name (imports included) outside comments.
 */
class PackageDependenciesTest {
    private static final Path SOURCES = Path.of("src/main/java");
    private static final String INTERP = "io.vmguard.engine.interp";
    private static final Pattern REFERENCE = Pattern.compile("\\bio\\.vmguard\\.engine\\.interp((?:\\.[a-z]\\w*)*)\\.[A-Z]");
    private static final Pattern PACKAGE = Pattern.compile("^package ([\\w.]+);", Pattern.MULTILINE);
    private static final Pattern COMMENT = Pattern.compile("/\\*.*?\\*/|//[^\\n]*", Pattern.DOTALL);

    /** Interpreter package (the root as "") to the interpreter packages its classes name. */
    private static Map<String, Set<String>> graph(Path root) {
        Map<String, Set<String>> graph = new TreeMap<>();
        for (Path file : javaFiles(root.resolve(INTERP.replace('.', '/')))) {
            String text = read(file);
            Matcher declared = PACKAGE.matcher(text);
            assertTrue(declared.find(), () -> file + ": no package declaration");
            String from = declared.group(1).substring(INTERP.length());
            Set<String> targets = graph.computeIfAbsent(from, k -> new TreeSet<>());
            for (String to : references(text)) {
                if (!to.equals(from)) {
                    targets.add(to);
                }
            }
        }
        return graph;
    }

    private static Set<String> references(String text) {
        Set<String> packages = new TreeSet<>();
        Matcher m = REFERENCE.matcher(COMMENT.matcher(text).replaceAll(" "));
        while (m.find()) {
            packages.add(m.group(1));
        }
        return packages;
    }

    /** A cycle through the graph as a list of packages, first repeated last; empty if there is none. */
    static List<String> cycle(Map<String, Set<String>> graph) {
        Map<String, Integer> state = new TreeMap<>(); // absent: unvisited, 1: on the path, 2: done
        List<String> path = new ArrayList<>();
        for (String start : graph.keySet()) {
            List<String> found = visit(start, graph, state, path);
            if (!found.isEmpty()) {
                return found;
            }
        }
        return List.of();
    }

    private static List<String> visit(String node, Map<String, Set<String>> graph, Map<String, Integer> state,
                                      List<String> path) {
        Integer seen = state.get(node);
        if (seen != null) {
            if (seen == 2) {
                return List.of();
            }
            List<String> cycle = new ArrayList<>(path.subList(path.indexOf(node), path.size()));
            cycle.add(node);
            return cycle;
        }
        state.put(node, 1);
        path.add(node);
        for (String next : graph.getOrDefault(node, Set.of())) {
            List<String> found = visit(next, graph, state, path);
            if (!found.isEmpty()) {
                return found;
            }
        }
        path.removeLast();
        state.put(node, 2);
        return List.of();
    }

    @Test
    void interpreterPackagesHaveNoCycle() {
        Map<String, Set<String>> graph = graph(SOURCES);
        assertTrue(graph.keySet().containsAll(Set.of("", ".cpu", ".mmu", ".decode", ".fpu", ".execute", ".jit")),
                () -> "the interpreter's packages were not all found: " + graph.keySet());
        assertEquals(List.of(), cycle(graph), () -> "a package cycle (" + INTERP + " + suffix); all edges: " + graph);
    }

    @Test
    void theCoreStatePackageDependsOnNoOtherInterpreterPackageButThePlatformConstants() {
        assertEquals(Set.of(".platform"), graph(SOURCES).get(".cpu"));
    }

    @Test
    void theCycleCheckFindsACycle() {
        Map<String, Set<String>> graph = Map.of("a", Set.of("b"), "b", Set.of("c"), "c", Set.of("a"), "d", Set.of("a"));
        List<String> cycle = cycle(new TreeMap<>(graph));
        assertEquals(4, cycle.size(), () -> "cycle " + cycle);
        assertEquals(cycle.getFirst(), cycle.getLast());
        assertEquals(List.of(), cycle(new TreeMap<>(Map.of("a", Set.of("b"), "b", Set.of("c")))));
    }

    /** Code outside the interpreter uses its entry points (the root package and the JIT's options) only. */
    @Test
    void nothingOutsideTheInterpreterReachesIntoItsInternalPackages() {
        Path interp = SOURCES.resolve(INTERP.replace('.', '/'));
        List<String> offenders = new ArrayList<>();
        for (Path file : javaFiles(SOURCES)) {
            if (file.startsWith(interp)) {
                continue;
            }
            for (String to : references(read(file))) {
                if (!to.isEmpty() && !to.equals(".jit")) {
                    offenders.add(file + " -> " + INTERP + to);
                }
            }
        }
        assertEquals(List.of(), offenders);
    }

    private static List<Path> javaFiles(Path root) {
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(p -> p.toString().endsWith(".java")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
