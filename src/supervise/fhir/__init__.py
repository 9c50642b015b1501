"""FHIR R4 resources generated from the rubric plugins: Questionnaire, QuestionnaireResponse, Observation."""
