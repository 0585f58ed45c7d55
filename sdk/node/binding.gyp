{
  "targets": [
    {
      "target_name": "boxlite",
      "sources": ["src/boxlite_node.c"],
      "include_dirs": ["include", "../../include"],
      "cflags": ["-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Wno-unused-parameter",
                 "-fvisibility=hidden"],
      "libraries": ["-ldl"]
    }
  ]
}
