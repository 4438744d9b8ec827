"""The shared vocabulary of edgewright's workflows, one module per feature.

Workflows, activities, workers, the bridge and the API import these modules to talk about
a run: names, task queue, search attributes, IDs, and every input and output model. The
API starts workflows by name with these types and never imports a workflow implementation.
`common` holds what every feature shares; it imports no other edgewright module.
"""
