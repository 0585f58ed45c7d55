module boxlite.dev/sdk/go

go 1.19
